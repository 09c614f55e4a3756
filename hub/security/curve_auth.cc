#include "hub/security/curve_auth.h"

#include <zmq_addon.hpp>

#include <chrono>
#include <cstring>

#include "hub/base/clock.h"
#include "hub/base/log.h"
#include "hub/base/thread_name.h"
#include "hub/security/curve_keys.h"

namespace taxhub::security {
namespace {

constexpr const char* kLog = "zap";
constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
constexpr size_t kBinaryKeyLength = 32;

bool ValidServicePattern(std::string_view pattern) {
  if (pattern.ends_with(".*")) pattern.remove_suffix(2);
  if (pattern.empty() || pattern.size() > 255) return false;
  for (const char c : pattern) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '*') return false;
  }
  return true;
}

bool MatchesPattern(std::string_view pattern, std::string_view service) {
  if (pattern.ends_with(".*")) {
    pattern.remove_suffix(1);  // keep the dot: "filing.*" matches "filing.x", not "filingx"
    return service.size() > pattern.size() && service.starts_with(pattern);
  }
  return pattern == service;
}

std::string Z85(std::string_view binary) {
  char text[41] = {};
  if (binary.size() != kBinaryKeyLength ||
      zmq_z85_encode(text, reinterpret_cast<const uint8_t*>(binary.data()), binary.size()) == nullptr) {
    return "(not a key)";
  }
  return text;
}

}  // namespace

std::string_view PeerRoleName(PeerRole role) {
  switch (role) {
    case PeerRole::kHall: return "hall";
    case PeerRole::kAdapter: return "adapter";
    case PeerRole::kSubscriber: return "subscriber";
  }
  return "?";
}

Result<PeerRole> ParsePeerRole(std::string_view name) {
  for (PeerRole role : {PeerRole::kHall, PeerRole::kAdapter, PeerRole::kSubscriber}) {
    if (PeerRoleName(role) == name) return role;
  }
  return Error(ErrorCode::kBadRequest,
               "unknown role \"" + std::string(name) + "\" (hall, adapter or subscriber)", "role");
}

Status CurveAllowList::CheckKey(std::string_view name, const std::string& public_z85, std::string& binary) const {
  auto key = Z85KeyToBinary(public_z85);
  if (!key) {
    return Status(ErrorCode::kBadRequest, "peer " + std::string(name) + ": not a Z85 CURVE public key", "key");
  }
  if (auto other = name_by_key_.find(*key); other != name_by_key_.end()) {
    return Status(ErrorCode::kConflict,
                  "peers " + other->second + " and " + std::string(name) + " have the same key", "key");
  }
  binary = std::move(*key);
  return Status::Ok();
}

Status CurveAllowList::AddKey(std::string_view name, const std::string& public_z85) {
  if (!by_name_.contains(name)) {
    return Status(ErrorCode::kNotFound, "no peer " + std::string(name) + " to add a key to", "name");
  }
  std::string key;
  TAXHUB_RETURN_IF_ERROR(CheckKey(name, public_z85, key));
  name_by_key_.emplace(std::move(key), std::string(name));
  return Status::Ok();
}

Status CurveAllowList::Add(CurvePeer peer) {
  if (peer.name.empty()) return Status(ErrorCode::kMissingField, "a peer needs a name", "name");
  std::string key;
  TAXHUB_RETURN_IF_ERROR(CheckKey(peer.name, peer.public_z85, key));
  if (by_name_.contains(peer.name)) {
    return Status(ErrorCode::kConflict, "peer " + peer.name + " is listed twice", "name");
  }
  if (peer.role != PeerRole::kAdapter && !peer.services.empty()) {
    return Status(ErrorCode::kBadRequest, "peer " + peer.name + ": only adapters are given services", "services");
  }
  if (peer.role == PeerRole::kAdapter && peer.services.empty()) {
    return Status(ErrorCode::kMissingField, "adapter " + peer.name + " needs the services it may serve", "services");
  }
  for (const auto& service : peer.services) {
    if (!ValidServicePattern(service)) {
      return Status(ErrorCode::kBadRequest,
                    "peer " + peer.name + ": bad service \"" + service + "\" (a name, or prefix.*)", "services");
    }
  }
  name_by_key_.emplace(std::move(key), peer.name);
  std::string name = peer.name;
  by_name_.emplace(std::move(name), std::move(peer));
  return Status::Ok();
}

const CurvePeer* CurveAllowList::FindByKey(std::string_view binary_key) const {
  auto it = name_by_key_.find(binary_key);
  return it == name_by_key_.end() ? nullptr : FindByName(it->second);
}

const CurvePeer* CurveAllowList::FindByName(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &it->second;
}

bool CurveAllowList::MayConnect(const CurvePeer& peer, std::string_view domain) {
  switch (peer.role) {
    case PeerRole::kHall: return domain == kFrontendDomain;
    case PeerRole::kAdapter: return domain == kBackendDomain || domain == kFrontendDomain;
    case PeerRole::kSubscriber: return domain == kEventsDomain || domain == kFrontendDomain;
  }
  return false;
}

bool CurveAllowList::MayCall(const CurvePeer& peer, std::string_view service) {
  if (service.starts_with("mmi.")) return true;  // service discovery answers no secrets
  switch (peer.role) {
    case PeerRole::kHall: return service != "taxhub.report";
    case PeerRole::kAdapter: return service == "taxhub.report";
    case PeerRole::kSubscriber: return service == "taxhub.events";
  }
  return false;
}

bool CurveAllowList::MayServe(const CurvePeer& peer, std::string_view service) {
  if (peer.role != PeerRole::kAdapter) return false;
  for (const auto& pattern : peer.services) {
    if (MatchesPattern(pattern, service)) return true;
  }
  return false;
}

// ---- the ZAP handler -------------------------------------------------------------------------

ZapHandler::ZapHandler(zmq::context_t& context, std::shared_ptr<const CurveAllowList> peers)
    : context_(context), peers_(std::move(peers)) {}

ZapHandler::~ZapHandler() { Stop(); }

Status ZapHandler::Bind() {
  try {
    socket_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::rep);
    socket_->set(zmq::sockopt::linger, 0);
    socket_->bind(kZapEndpoint);
  } catch (const zmq::error_t& e) {
    socket_.reset();
    return Status(ErrorCode::kUnavailable, std::string("cannot bind the ZAP handler: ") + e.what(), "curve");
  }
  return Status::Ok();
}

void ZapHandler::Start() {
  if (socket_ && !thread_.joinable()) thread_ = NamedThread("zap", [this] { Run(); });
}

void ZapHandler::Stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  socket_.reset();
}

void ZapHandler::Replace(std::shared_ptr<const CurveAllowList> peers) {
  std::lock_guard<std::mutex> lock(peers_mutex_);
  peers_ = std::move(peers);
}

std::vector<std::string> ZapHandler::Answer(const std::vector<std::string>& request) {
  // RFC 27: version, request id, domain, address, identity, mechanism, credentials…
  const std::string request_id = request.size() > 1 ? request[1] : "";
  auto reply = [&](const char* code, std::string text, std::string user = {}) {
    return std::vector<std::string>{"1.0", request_id, code, std::move(text), std::move(user), ""};
  };
  if (request.size() < 6 || request[0] != "1.0") {
    ++counters_.refused;
    return reply("500", "not a ZAP 1.0 request");
  }
  const std::string& domain = request[2];
  const std::string& address = request[3];
  std::shared_ptr<const CurveAllowList> peers;
  {
    std::lock_guard<std::mutex> lock(peers_mutex_);
    peers = peers_;
  }
  const CurvePeer* peer = nullptr;
  std::string why;
  if (request[5] != "CURVE" || request.size() != 7 || request[6].size() != kBinaryKeyLength) {
    why = "mechanism " + request[5] + " is not allowed";
  } else if ((peer = peers->FindByKey(request[6])) == nullptr) {
    why = "key " + Z85(request[6]) + " is not listed";
  } else if (!CurveAllowList::MayConnect(*peer, domain)) {
    why = std::string(PeerRoleName(peer->role)) + " " + peer->name + " may not connect to " + domain;
  }
  if (why.empty()) {
    ++counters_.accepted;
    return reply("200", "OK", peer->name);
  }
  const uint64_t refused = ++counters_.refused;
  // A flood of strangers must not flood the log: the first few, then every thousandth.
  if (refused <= 20 || refused % 1000 == 0) {
    TAXHUB_LOG(kWarn, kLog) << "refused " << address << " on " << domain << ": " << why << " (" << refused
                            << " refused so far)";
  }
  return reply("400", why);
}

void ZapHandler::Run() {
  while (!stopping_) {
    zmq::pollitem_t item{socket_->handle(), 0, ZMQ_POLLIN, 0};
    try {
      if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) continue;
      std::vector<zmq::message_t> frames;
      if (!zmq::recv_multipart(*socket_, std::back_inserter(frames), zmq::recv_flags::dontwait)) continue;
      std::vector<std::string> request;
      request.reserve(frames.size());
      for (const auto& frame : frames) request.push_back(frame.to_string());
      std::vector<zmq::message_t> reply;
      for (auto& part : Answer(request)) reply.emplace_back(part);
      zmq::send_multipart(*socket_, reply);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      if (e.num() == ETERM) break;
      TAXHUB_LOG(kError, kLog) << "ZAP handler: " << e.what();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // fails closed meanwhile
    }
  }
}

// ---- sockets ---------------------------------------------------------------------------------

void MakeCurveServer(zmq::socket_t& socket, const std::string& secret_z85, const char* domain) {
  socket.set(zmq::sockopt::curve_server, 1);
  socket.set(zmq::sockopt::curve_secretkey, secret_z85);
  socket.set(zmq::sockopt::zap_domain, domain);
}

std::string PeerName(const zmq::message_t& frame) {
  const char* user = zmq_msg_gets(const_cast<zmq_msg_t*>(frame.handle()), "User-Id");
  return user == nullptr ? "" : user;
}

Status ProveUnknownKeyRefused(zmq::context_t& context, const std::string& endpoint, zmq::socket_type type,
                              const std::string& server_public_z85, int64_t timeout_ms) {
  static std::atomic<int> probes{0};
  auto stranger = GenerateCurveKeyPair();
  if (!stranger) return stranger.error();
  const std::string monitor_endpoint = "inproc://taxhub-curve-probe-" + std::to_string(++probes);
  try {
    zmq::socket_t probe(context, type);
    probe.set(zmq::sockopt::linger, 0);
    probe.set(zmq::sockopt::curve_serverkey, server_public_z85);
    probe.set(zmq::sockopt::curve_publickey, stranger->public_z85);
    probe.set(zmq::sockopt::curve_secretkey, stranger->secret_z85);
    if (zmq_socket_monitor(probe.handle(), monitor_endpoint.c_str(),
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) != 0) {
      return Status(ErrorCode::kInternal, "cannot monitor the CURVE probe", "curve");
    }
    zmq::socket_t monitor(context, zmq::socket_type::pair);
    monitor.set(zmq::sockopt::linger, 0);
    monitor.connect(monitor_endpoint);
    probe.connect(endpoint);
    const int64_t deadline = MonotonicMs() + timeout_ms;
    Status verdict(ErrorCode::kTimeout, "no handshake with " + endpoint + " within " + std::to_string(timeout_ms) + " ms",
                   "curve");
    for (int64_t now = MonotonicMs(); now < deadline; now = MonotonicMs()) {
      zmq::pollitem_t item{monitor.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, std::chrono::milliseconds(deadline - now)) == 0) break;
      std::vector<zmq::message_t> event;
      if (!zmq::recv_multipart(monitor, std::back_inserter(event)) || event.empty() || event[0].size() < 6) continue;
      uint16_t id = 0;
      std::memcpy(&id, event[0].data(), sizeof id);
      uint32_t value = 0;
      std::memcpy(&value, static_cast<const char*>(event[0].data()) + sizeof id, sizeof value);
      if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        // 400 is the handler saying no; a 300 or 500 is a handler failing, which proves nothing.
        verdict = value == 400 ? Status::Ok()
                               : Status(ErrorCode::kInternal,
                                        "the ZAP handler failed (status " + std::to_string(value) + ") at " + endpoint,
                                        "curve");
        break;
      }
      if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        verdict = Status(ErrorCode::kInternal, "a key nobody listed was let in at " + endpoint, "curve");
        break;
      }
      // Other failures (protocol, no detail) say nothing about the handler; keep waiting.
    }
    zmq_socket_monitor(probe.handle(), nullptr, 0);
    return verdict;
  } catch (const zmq::error_t& e) {
    return Status(ErrorCode::kInternal, std::string("CURVE probe of ") + endpoint + ": " + e.what(), "curve");
  }
}

}  // namespace taxhub::security
