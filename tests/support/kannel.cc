#include "tests/support/kannel.h"

#include <signal.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace taxhub::testing {
namespace {

const char* const kBearerbox = "/usr/sbin/bearerbox";
const char* const kSmsbox = "/usr/sbin/smsbox";
const char* const kFakeSmsc = "/usr/lib/kannel/test/fakesmsc";

bool Accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

std::string DecodeFakeSmscUcs2(const std::string& encoded) {
  std::string bytes;
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] == '%' && i + 2 < encoded.size()) {
      bytes += static_cast<char>(std::stoi(encoded.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else if (encoded[i] == '+') {
      bytes += ' ';
    } else {
      bytes += encoded[i];
    }
  }
  std::string out;
  for (size_t i = 0; i + 1 < bytes.size(); i += 2) {
    uint32_t unit = (static_cast<unsigned char>(bytes[i]) << 8) | static_cast<unsigned char>(bytes[i + 1]);
    if (unit >= 0xD800 && unit < 0xDC00 && i + 3 < bytes.size()) {
      const uint32_t low = (static_cast<unsigned char>(bytes[i + 2]) << 8) | static_cast<unsigned char>(bytes[i + 3]);
      unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
      i += 2;
    }
    AppendUtf8(out, unit);
  }
  return out;
}

bool KannelGateway::Installed() {
  return access(kBearerbox, X_OK) == 0 && access(kSmsbox, X_OK) == 0 && access(kFakeSmsc, X_OK) == 0;
}

std::optional<KannelGateway> KannelGateway::Start(const std::string& dir, std::string* why) {
  KannelGateway k;
  k.dir_ = dir;
  k.conf_ = dir + "/kannel.conf";
  k.sendsms_port_ = FreePort();
  const int smsc_port = FreePort();
  std::ifstream in(SourceDir() + "/config/kannel/kannel.conf");
  std::stringstream text;
  text << in.rdbuf();
  std::string conf = text.str();
  conf = Replace(conf, "@ADMIN_PORT@", std::to_string(FreePort()));
  conf = Replace(conf, "@ADMIN_PASSWORD@", "admin-" + std::to_string(getpid()));
  conf = Replace(conf, "@SMSBOX_PORT@", std::to_string(FreePort()));
  conf = Replace(conf, "@SMSC_PORT@", std::to_string(smsc_port));
  conf = Replace(conf, "@SENDSMS_PORT@", std::to_string(k.sendsms_port_));
  conf = Replace(conf, "@DIR@", dir);
  conf = Replace(conf, "@USERNAME@", kUser);
  conf = Replace(conf, "@PASSWORD@", kPassword);
  std::ofstream(k.conf_) << conf;
  k.bearerbox_ = Process::Start({kBearerbox, "-v", "1", k.conf_}, dir + "/bearerbox.out");
  // fakesmsc connects to the SMSC port bearerbox opens; it sends nothing itself (-m 0).
  bool smsc_up = false;
  for (int i = 0; i < 100 && !smsc_up; ++i) {
    smsc_up = Accepts(smsc_port);
    if (!smsc_up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  k.fakesmsc_ = Process::Start({kFakeSmsc, "-H", "127.0.0.1", "-r", std::to_string(smsc_port), "-m", "0",
                                "0 0 text nothing"},
                               dir + "/fakesmsc.out");
  if (!smsc_up || !k.StartSmsbox()) {
    if (why) {
      std::ifstream b(dir + "/bearerbox.out"), s(dir + "/smsbox.out");
      std::stringstream logs;
      logs << "bearerbox:\n" << b.rdbuf() << "\nsmsbox:\n" << s.rdbuf();
      *why = logs.str();
    }
    return std::nullopt;
  }
  return k;
}

bool KannelGateway::WaitForSendsms(int timeout_ms) const {
  for (int waited = 0; waited < timeout_ms; waited += 50) {
    if (Accepts(sendsms_port_)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

bool KannelGateway::StartSmsbox() {
  smsbox_ = Process::Start({kSmsbox, "-v", "1", conf_}, dir_ + "/smsbox.out");
  return smsbox_.has_value() && WaitForSendsms(10'000);
}

void KannelGateway::StopSmsbox() {
  if (smsbox_) smsbox_->Stop(5000);
  smsbox_.reset();
}

void KannelGateway::PauseSmsbox() {
  if (smsbox_) smsbox_->Signal(SIGSTOP);
}

void KannelGateway::ResumeSmsbox() {
  if (smsbox_) smsbox_->Signal(SIGCONT);
}

void KannelGateway::Stop() {
  ResumeSmsbox();
  if (smsbox_) smsbox_->Stop(5000);
  if (fakesmsc_) fakesmsc_->Stop(2000);
  if (bearerbox_) bearerbox_->Stop(5000);
  smsbox_.reset();
  fakesmsc_.reset();
  bearerbox_.reset();
}

std::vector<ReceivedSms> KannelGateway::Received() const {
  std::vector<ReceivedSms> out;
  if (!fakesmsc_) return out;
  // "… Got message 1: <12366 13800138000 ucs-2 %60%A8…>"
  static const std::regex line(R"(Got message \d+: <(\S+) (\S+) (\S+) ([^>]*)>)");
  std::istringstream log(fakesmsc_->Log());
  std::string text;
  while (std::getline(log, text)) {
    std::smatch m;
    if (!std::regex_search(text, m, line)) continue;
    ReceivedSms sms{m[1], m[2], m[4]};
    if (m[3] == "ucs-2") sms.text = DecodeFakeSmscUcs2(m[4]);
    out.push_back(std::move(sms));
  }
  return out;
}

}  // namespace taxhub::testing
