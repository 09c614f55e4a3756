#include "hub/base/thread_name.h"

#include <pthread.h>

namespace taxhub {

namespace {
constexpr size_t kMaxName = 15;  // the kernel's TASK_COMM_LEN, less its terminating NUL
}  // namespace

void NameThisThread(std::string_view name) {
  const std::string cut(name.substr(0, kMaxName));
  pthread_setname_np(pthread_self(), cut.c_str());  // fails only for names over the limit
}

std::string NumberedThreadName(std::string_view pool, int index) {
  return std::string(pool) + "/" + std::to_string(index);
}

std::string ThisThreadName() {
  char name[kMaxName + 1] = {};
  if (pthread_getname_np(pthread_self(), name, sizeof name) != 0) return "";
  return name;
}

}  // namespace taxhub
