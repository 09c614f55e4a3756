#include "hub/base/yaml_reader.h"

#include <cerrno>
#include <charconv>
#include <fstream>
#include <sstream>

namespace taxhub {
namespace {

std::optional<int64_t> ParseScaled(const std::string& text,
                                   const std::vector<std::pair<std::string, int64_t>>& units) {
  if (text.empty()) return std::nullopt;
  int64_t value = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || ptr == begin || value < 0) return std::nullopt;
  std::string unit(ptr, end);
  while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
  for (const auto& [name, scale] : units) {
    if (unit == name) {
      if (scale != 0 && value > INT64_MAX / scale) return std::nullopt;
      return value * scale;
    }
  }
  return std::nullopt;
}

template <typename T>
std::optional<T> ParseNumber(const std::string& text) {
  T value{};
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<int64_t> ParseDurationMs(const std::string& text) {
  return ParseScaled(text, {{"", 1},
                            {"ms", 1},
                            {"s", 1000},
                            {"m", 60'000},
                            {"h", 3'600'000},
                            {"d", 86'400'000}});
}

std::optional<int64_t> ParseDurationUs(const std::string& text) {
  if (text == "0") return 0;  // off, in any unit
  return ParseScaled(text, {{"us", 1}, {"ms", 1000}, {"s", 1'000'000}});
}

std::optional<int64_t> ParseBytes(const std::string& text) {
  return ParseScaled(text, {{"", 1},
                            {"B", 1},
                            {"KiB", 1024},
                            {"MiB", 1024 * 1024},
                            {"GiB", int64_t{1024} * 1024 * 1024}});
}

ConfigNode::ConfigNode(YAML::Node node, std::string path, std::shared_ptr<const std::string> file)
    : node_(std::move(node)),
      path_(std::move(path)),
      file_(std::move(file)),
      read_keys_(std::make_shared<std::set<std::string>>()) {}

ConfigNode ConfigNode::Renamed(std::string path) const {
  ConfigNode out = *this;
  out.path_ = std::move(path);
  return out;
}

int ConfigNode::line() const { return node_.Mark().line + 1; }

std::string ConfigNode::KeyPath(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

void ConfigNode::FailAt(const YAML::Node& node, const std::string& key_path,
                        const std::string& problem) const {
  int line = node.IsDefined() && node.Mark().line >= 0 ? node.Mark().line + 1 : this->line();
  std::ostringstream out;
  out << *file_ << ":" << line << ": " << (key_path.empty() ? "(top)" : key_path) << ": "
      << problem;
  throw ConfigError(out.str());
}

void ConfigNode::Fail(const std::string& key, const std::string& problem) const {
  YAML::Node child = node_.IsMap() ? node_[key] : YAML::Node();
  FailAt(child, KeyPath(key), problem);
}

void ConfigNode::FailHere(const std::string& problem) const { FailAt(node_, path_, problem); }

YAML::Node ConfigNode::Get(const std::string& key) const {
  if (!node_.IsMap()) FailHere("expected a map of keys");
  read_keys_->insert(key);
  return node_[key];
}

bool ConfigNode::Has(const std::string& key) const {
  return node_.IsMap() && node_[key].IsDefined() && !node_[key].IsNull();
}

ConfigNode ConfigNode::Child(const std::string& key) const {
  YAML::Node child = Get(key);
  if (!child.IsDefined() || child.IsNull()) Fail(key, "is required");
  if (child.IsScalar()) Fail(key, "expected a map or a list, got \"" + child.Scalar() + "\"");
  return ConfigNode(child, KeyPath(key), file_);
}

std::optional<ConfigNode> ConfigNode::OptionalChild(const std::string& key) const {
  YAML::Node child = Get(key);
  if (!child.IsDefined() || child.IsNull()) return std::nullopt;
  if (child.IsScalar()) Fail(key, "expected a map or a list, got \"" + child.Scalar() + "\"");
  return ConfigNode(child, KeyPath(key), file_);
}

std::optional<std::string> ConfigNode::ScalarOrAbsent(const std::string& key,
                                                      bool has_fallback) const {
  YAML::Node value = Get(key);
  if (!value.IsDefined() || value.IsNull()) {
    if (has_fallback) return std::nullopt;
    Fail(key, "is required");
  }
  if (!value.IsScalar()) Fail(key, "expected a single value, not a map or a list");
  return value.Scalar();
}

template <typename T>
T ConfigNode::Parsed(const std::string& key, std::optional<T> fallback,
                     const std::function<std::optional<T>(const std::string&)>& parse,
                     const std::string& expected) const {
  auto text = ScalarOrAbsent(key, fallback.has_value());
  if (!text) return *fallback;
  auto parsed = parse(*text);
  if (!parsed) Fail(key, "expected " + expected + ", got \"" + *text + "\"");
  return *parsed;
}

template <typename T>
void ConfigNode::CheckRange(const std::string& key, T value, T min, T max) const {
  if (value < min || value > max) {
    std::ostringstream out;
    out << "must be between " << min << " and " << max << ", got " << value;
    Fail(key, out.str());
  }
}

std::string ConfigNode::String(const std::string& key, std::optional<std::string> fallback) const {
  auto text = ScalarOrAbsent(key, fallback.has_value());
  return text ? *text : *fallback;
}

int64_t ConfigNode::Int(const std::string& key, std::optional<int64_t> fallback, int64_t min,
                        int64_t max) const {
  int64_t value = Parsed<int64_t>(key, fallback, ParseNumber<int64_t>, "an integer");
  CheckRange(key, value, min, max);
  return value;
}

double ConfigNode::Double(const std::string& key, std::optional<double> fallback, double min,
                          double max) const {
  double value = Parsed<double>(key, fallback, ParseNumber<double>, "a number");
  CheckRange(key, value, min, max);
  return value;
}

bool ConfigNode::Bool(const std::string& key, std::optional<bool> fallback) const {
  return Parsed<bool>(
      key, fallback,
      [](const std::string& text) -> std::optional<bool> {
        if (text == "true" || text == "yes" || text == "on") return true;
        if (text == "false" || text == "no" || text == "off") return false;
        return std::nullopt;
      },
      "true or false");
}

int64_t ConfigNode::DurationMs(const std::string& key, std::optional<int64_t> fallback) const {
  return Parsed<int64_t>(key, fallback, ParseDurationMs,
                         "a duration such as 250ms, 30s, 5m, 4h or 2d");
}

int64_t ConfigNode::DurationUs(const std::string& key, std::optional<int64_t> fallback) const {
  return Parsed<int64_t>(key, fallback, ParseDurationUs, "a duration such as 300us, 2ms or 1s");
}

int64_t ConfigNode::Bytes(const std::string& key, std::optional<int64_t> fallback) const {
  return Parsed<int64_t>(key, fallback, ParseBytes, "a size such as 65536, 512KiB or 4MiB");
}

std::vector<std::string> ConfigNode::StringList(const std::string& key) const {
  YAML::Node value = Get(key);
  std::vector<std::string> out;
  if (!value.IsDefined() || value.IsNull()) return out;
  if (!value.IsSequence()) Fail(key, "expected a list");
  for (const auto& item : value) {
    if (!item.IsScalar()) FailAt(item, KeyPath(key), "expected a list of single values");
    out.push_back(item.Scalar());
  }
  return out;
}

std::string ConfigNode::AsString() const {
  if (!node_.IsScalar()) FailHere("expected a single value");
  return node_.Scalar();
}

std::vector<ConfigNode> ConfigNode::Items() const {
  if (!node_.IsSequence()) FailHere("expected a list");
  std::vector<ConfigNode> out;
  int i = 0;
  for (const auto& item : node_) {
    out.emplace_back(item, path_ + "[" + std::to_string(i++) + "]", file_);
  }
  return out;
}

std::vector<std::pair<std::string, ConfigNode>> ConfigNode::Entries() const {
  if (!node_.IsMap()) FailHere("expected a map of keys");
  std::vector<std::pair<std::string, ConfigNode>> out;
  for (const auto& entry : node_) {
    std::string key = entry.first.Scalar();
    read_keys_->insert(key);
    out.emplace_back(key, ConfigNode(entry.second, KeyPath(key), file_));
  }
  return out;
}

void ConfigNode::Finish() const {
  if (!node_.IsMap()) return;
  for (const auto& entry : node_) {
    std::string key = entry.first.Scalar();
    if (!read_keys_->contains(key)) FailAt(entry.first, KeyPath(key), "unknown key");
  }
}

Status ReadConfigText(const std::string& name, const std::string& text,
                      const std::function<void(ConfigNode&)>& parse) {
  auto file = std::make_shared<const std::string>(name);
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsMap()) {
      return Status(ErrorCode::kBadRequest, name + ":1: (top): expected a map of sections");
    }
    ConfigNode node(root, "", file);
    parse(node);
    return Status::Ok();
  } catch (const ConfigError& e) {
    return Status(ErrorCode::kBadRequest, e.what());
  } catch (const YAML::Exception& e) {
    return Status(ErrorCode::kBadRequest, name + ":" + std::to_string(e.mark.line + 1) +
                                              ": YAML syntax: " + e.msg);
  }
}

Status ReadConfig(const std::string& file, const std::function<void(ConfigNode&)>& parse) {
  std::ifstream in(file);
  if (!in) {
    return Status(ErrorCode::kNotFound, file + ": cannot open config file");
  }
  std::stringstream text;
  text << in.rdbuf();
  return ReadConfigText(file, text.str(), parse);
}

}  // namespace taxhub
