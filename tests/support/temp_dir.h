// A directory under /tmp that is removed with everything in it when the object goes.
#ifndef TAXHUB_TESTS_SUPPORT_TEMP_DIR_H_
#define TAXHUB_TESTS_SUPPORT_TEMP_DIR_H_

#include <string>

namespace taxhub::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace taxhub::testing

#endif  // TAXHUB_TESTS_SUPPORT_TEMP_DIR_H_
