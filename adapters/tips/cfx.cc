#include "adapters/tips/cfx.h"

#include <openssl/evp.h>

#include <Poco/AutoPtr.h>
#include <Poco/DOM/DOMParser.h>
#include <Poco/DOM/Document.h>
#include <Poco/DOM/Element.h>
#include <Poco/DOM/NodeList.h>
#include <Poco/Exception.h>
#include <Poco/SAX/XMLReader.h>

#include <cctype>
#include <cstdlib>
#include <map>

#include "adapters/legacy/gbk.h"

namespace taxhub::tips {
namespace {

constexpr std::string_view kSignOpen = "<!--SIGN:";
constexpr std::string_view kSignClose = "-->";
constexpr std::string_view kEnd = "</CFX>";

std::string Escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::string> Unbase64(std::string_view text) {
  if (text.size() % 4 != 0) return Error(ErrorCode::kBadSignature, "signature is not Base64", "signature");
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return Error(ErrorCode::kBadSignature, "signature is not Base64", "signature");
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') ++pad;
  if (text.size() > 1 && text[text.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

// Nested elements become nested XML; paths use '/'.
void AppendFields(std::string& xml, const std::vector<std::pair<std::string, std::string>>& fields) {
  std::vector<std::string> open;  // the path of elements currently open
  auto split = [](const std::string& path) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
      size_t slash = path.find('/', start);
      parts.push_back(path.substr(start, slash - start));
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    return parts;
  };
  // "Detail3111[2]" is a Detail3111 element distinct from "Detail3111[1]".
  auto element = [](const std::string& segment) { return segment.substr(0, segment.find('[')); };
  for (const auto& [path, value] : fields) {
    auto parts = split(path);
    const std::string leaf = element(parts.back());
    parts.pop_back();
    size_t common = 0;
    while (common < open.size() && common < parts.size() && open[common] == parts[common]) ++common;
    while (open.size() > common) {
      xml += "</" + element(open.back()) + ">";
      open.pop_back();
    }
    for (size_t i = common; i < parts.size(); ++i) {
      xml += "<" + element(parts[i]) + ">";
      open.push_back(parts[i]);
    }
    xml += "<" + leaf + ">" + Escape(value) + "</" + leaf + ">";
  }
  while (!open.empty()) {
    xml += "</" + element(open.back()) + ">";
    open.pop_back();
  }
}

void CollectFields(Poco::XML::Node* node, const std::string& prefix,
                   std::vector<std::pair<std::string, std::string>>& out) {
  std::map<std::string, int> count, seen;  // elements that repeat under this node get an index
  for (Poco::XML::Node* child = node->firstChild(); child; child = child->nextSibling()) {
    if (child->nodeType() == Poco::XML::Node::ELEMENT_NODE) ++count[child->nodeName()];
  }
  for (Poco::XML::Node* child = node->firstChild(); child; child = child->nextSibling()) {
    if (child->nodeType() != Poco::XML::Node::ELEMENT_NODE) continue;
    std::string name = child->nodeName();
    if (count[name] > 1) name += "[" + std::to_string(seen[child->nodeName()]++) + "]";
    const std::string path = prefix.empty() ? name : prefix + "/" + name;
    bool has_elements = false;
    for (Poco::XML::Node* c = child->firstChild(); c; c = c->nextSibling()) {
      has_elements |= c->nodeType() == Poco::XML::Node::ELEMENT_NODE;
    }
    if (has_elements) {
      CollectFields(child, path, out);
    } else {
      out.emplace_back(path, child->innerText());
    }
  }
}

}  // namespace

std::string CfxMessage::Get(std::string_view path) const {
  for (const auto& [p, value] : fields) {
    if (p == path) return value;
  }
  return "";
}

std::vector<StringMap> CfxMessage::Groups(std::string_view name) const {
  std::vector<StringMap> groups;
  std::map<int, size_t> slot;  // occurrence index -> position in groups
  for (const auto& [path, value] : fields) {
    if (!path.starts_with(name)) continue;
    std::string_view rest = std::string_view(path).substr(name.size());
    int index = 0;
    if (rest.starts_with("[")) {
      const size_t close = rest.find(']');
      if (close == std::string_view::npos) continue;
      index = std::atoi(std::string(rest.substr(1, close - 1)).c_str());
      rest.remove_prefix(close + 1);
    }
    if (!rest.starts_with("/")) continue;  // another element whose name begins the same way
    auto [it, added] = slot.emplace(index, groups.size());
    if (added) groups.emplace_back();
    groups[it->second][std::string(rest.substr(1))] = value;
  }
  return groups;
}

bool IsCfxAmount(std::string_view amount) {
  if (!amount.empty() && amount.front() == '-') amount.remove_prefix(1);
  size_t dot = amount.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 15 || amount.size() - dot != 3) return false;
  for (size_t i = 0; i < amount.size(); ++i) {
    if (i != dot && !std::isdigit(static_cast<unsigned char>(amount[i]))) return false;
  }
  return true;
}

Result<std::string> EncodeCfx(const CfxMessage& m, const security::PrivateKey& key) {
  std::string xml = "<?xml version=\"1.0\" encoding=\"GBK\"?><CFX><HEAD><VER>1.0</VER>";
  xml += "<SRC>" + Escape(m.src) + "</SRC><DES>" + Escape(m.des) + "</DES><APP>TIPS</APP>";
  xml += "<MsgNo>" + Escape(m.msg_no) + "</MsgNo><MsgID>" + Escape(m.msg_id) + "</MsgID>";
  xml += "<MsgRef>" + Escape(m.msg_ref) + "</MsgRef><WorkDate>" + Escape(m.work_date) +
         "</WorkDate><Reserve/></HEAD><MSG>";
  AppendFields(xml, m.fields);
  xml += "</MSG></CFX>";
  auto gbk = legacy::Utf8ToGbk(xml);
  if (!gbk) return Error(gbk.error());
  auto signature = key.Sign(*gbk);
  if (!signature) return Error(signature.error());
  return *gbk + std::string(kSignOpen) + Base64(*signature) + std::string(kSignClose);
}

Result<CfxMessage> DecodeCfx(std::string_view bytes, const security::Certificate& sender) {
  const size_t end = bytes.rfind(kEnd);
  if (end == std::string_view::npos) return Error(ErrorCode::kDecodeError, "no </CFX>", "CFX");
  const std::string_view signed_part = bytes.substr(0, end + kEnd.size());
  std::string_view rest = bytes.substr(end + kEnd.size());
  if (rest.substr(0, kSignOpen.size()) != kSignOpen || rest.size() < kSignOpen.size() + kSignClose.size() ||
      rest.substr(rest.size() - kSignClose.size()) != kSignClose) {
    return Error(ErrorCode::kBadSignature, "no signature after </CFX>", "signature");
  }
  auto signature = Unbase64(rest.substr(kSignOpen.size(), rest.size() - kSignOpen.size() - kSignClose.size()));
  if (!signature) return Error(signature.error());
  TAXHUB_RETURN_IF_ERROR(sender.VerifySignature(signed_part, *signature));
  auto utf8 = legacy::GbkToUtf8(signed_part);
  if (!utf8) return Error(ErrorCode::kDecodeError, "the message is not GBK", "CFX");
  std::string xml = std::move(*utf8);
  if (size_t decl = xml.find("encoding=\"GBK\""); decl != std::string::npos && decl < 64) {
    xml.replace(decl, 14, "encoding=\"UTF-8\"");
  }
  CfxMessage m;
  try {
    Poco::XML::DOMParser parser;
    parser.setFeature(Poco::XML::XMLReader::FEATURE_EXTERNAL_GENERAL_ENTITIES, false);
    parser.setFeature(Poco::XML::XMLReader::FEATURE_EXTERNAL_PARAMETER_ENTITIES, false);
    Poco::AutoPtr<Poco::XML::Document> doc = parser.parseString(xml);
    Poco::XML::Element* root = doc->documentElement();
    if (!root || root->nodeName() != "CFX") return Error(ErrorCode::kDecodeError, "the root is not CFX", "CFX");
    auto text = [&](const char* path) -> std::string {
      Poco::XML::Node* node = root->getNodeByPath(path);
      return node ? node->innerText() : std::string();
    };
    m.src = text("HEAD/SRC");
    m.des = text("HEAD/DES");
    m.msg_no = text("HEAD/MsgNo");
    m.msg_id = text("HEAD/MsgID");
    m.msg_ref = text("HEAD/MsgRef");
    m.work_date = text("HEAD/WorkDate");
    Poco::XML::Node* msg = root->getNodeByPath("MSG");
    if (!msg) return Error(ErrorCode::kDecodeError, "no MSG", "MSG");
    CollectFields(msg, "", m.fields);
  } catch (const Poco::Exception& e) {
    return Error(ErrorCode::kDecodeError, "malformed CFX XML: " + e.displayText(), "CFX");
  }
  if (m.msg_no.size() != 4 || m.src.empty() || m.des.empty()) {
    return Error(ErrorCode::kDecodeError, "incomplete HEAD", "HEAD");
  }
  return m;
}

}  // namespace taxhub::tips
