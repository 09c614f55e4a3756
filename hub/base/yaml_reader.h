// Strict reading of YAML config files.
//
// Every key a section may hold is read through a ConfigNode; Finish() then rejects any key
// that nobody read, so a misspelt key stops start-up instead of being silently ignored. Every
// error names the file, the line and the dotted key path:
//   config/hub.yaml:12: broker.heartbeat: expected a duration such as 2500ms or 3s, got "fast"
//
// Parsing code calls the getters freely; the first problem throws ConfigError, which
// LoadYamlFile's caller turns into a Status with ReadConfig().
#ifndef TAXHUB_HUB_BASE_YAML_READER_H_
#define TAXHUB_HUB_BASE_YAML_READER_H_

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "hub/base/status.h"

namespace taxhub {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ConfigNode {
 public:
  ConfigNode(YAML::Node node, std::string path, std::shared_ptr<const std::string> file);

  const std::string& path() const { return path_; }
  // The same node under another name in messages ("route vat-return" for "routes[3]").
  ConfigNode Renamed(std::string path) const;
  int line() const;
  bool IsMap() const { return node_.IsMap(); }
  bool IsSequence() const { return node_.IsSequence(); }
  bool IsScalar() const { return node_.IsScalar(); }

  bool Has(const std::string& key) const;
  // A child map or sequence; a required one throws when absent.
  ConfigNode Child(const std::string& key) const;
  std::optional<ConfigNode> OptionalChild(const std::string& key) const;

  std::string String(const std::string& key, std::optional<std::string> fallback = {}) const;
  int64_t Int(const std::string& key, std::optional<int64_t> fallback, int64_t min,
              int64_t max) const;
  bool Bool(const std::string& key, std::optional<bool> fallback = {}) const;
  double Double(const std::string& key, std::optional<double> fallback, double min,
                double max) const;
  // "250ms", "30s", "5m", "4h", "2d" or a plain integer of milliseconds.
  int64_t DurationMs(const std::string& key, std::optional<int64_t> fallback = {}) const;
  // "300us", "2ms", "1s" or 0, in microseconds; any other number needs its unit.
  int64_t DurationUs(const std::string& key, std::optional<int64_t> fallback = {}) const;
  // 1048576, "512KiB", "4MiB", "1GiB".
  int64_t Bytes(const std::string& key, std::optional<int64_t> fallback = {}) const;
  std::vector<std::string> StringList(const std::string& key) const;

  // The value of this node itself, when it is a scalar.
  std::string AsString() const;

  std::vector<ConfigNode> Items() const;                               // a sequence
  std::vector<std::pair<std::string, ConfigNode>> Entries() const;     // a map, in file order

  // Throws on the first key of this map that no getter has read.
  void Finish() const;

  [[noreturn]] void Fail(const std::string& key, const std::string& problem) const;
  [[noreturn]] void FailHere(const std::string& problem) const;

 private:
  YAML::Node Get(const std::string& key) const;
  // The scalar at `key`; nullopt when it is absent and the caller has a fallback.
  std::optional<std::string> ScalarOrAbsent(const std::string& key, bool has_fallback) const;
  template <typename T>
  T Parsed(const std::string& key, std::optional<T> fallback,
           const std::function<std::optional<T>(const std::string&)>& parse,
           const std::string& expected) const;
  template <typename T>
  void CheckRange(const std::string& key, T value, T min, T max) const;
  std::string KeyPath(const std::string& key) const;
  [[noreturn]] void FailAt(const YAML::Node& node, const std::string& key_path,
                           const std::string& problem) const;

  YAML::Node node_;
  std::string path_;
  std::shared_ptr<const std::string> file_;
  std::shared_ptr<std::set<std::string>> read_keys_;
};

// Parses `file` and hands its root (which must be a map) to `parse`. Any YAML syntax error,
// ConfigError or missing file comes back as a Status naming the file and line.
Status ReadConfig(const std::string& file, const std::function<void(ConfigNode&)>& parse);
// The same over text already in memory; `name` stands in for the file name in messages.
Status ReadConfigText(const std::string& name, const std::string& text,
                      const std::function<void(ConfigNode&)>& parse);

// Exposed for tests: parse the duration and size notations.
std::optional<int64_t> ParseDurationMs(const std::string& text);
std::optional<int64_t> ParseDurationUs(const std::string& text);
std::optional<int64_t> ParseBytes(const std::string& text);

}  // namespace taxhub

#endif  // TAXHUB_HUB_BASE_YAML_READER_H_
