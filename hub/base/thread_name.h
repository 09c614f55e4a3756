// Names for the hub's and the adapters' threads, so that `top -H`, `ps -L`, perf and gdb say
// which thread is the engine, the broker or a verifier instead of repeating the process name.
#ifndef TAXHUB_HUB_BASE_THREAD_NAME_H_
#define TAXHUB_HUB_BASE_THREAD_NAME_H_

#include <string>
#include <string_view>
#include <thread>
#include <utility>

namespace taxhub {

// Names the calling thread. Linux keeps at most 15 bytes of a name; a longer one is cut to its
// first 15, never refused, since a name is a diagnostic and must not stop a thread from running.
void NameThisThread(std::string_view name);

// A thread that names itself `name`, then runs `body`.
template <typename F>
std::thread NamedThread(std::string name, F body) {
  return std::thread([name = std::move(name), body = std::move(body)]() mutable {
    NameThisThread(name);
    body();
  });
}

// "verify/3": a pool's numbered thread.
std::string NumberedThreadName(std::string_view pool, int index);

// The calling thread's name as the kernel holds it.
std::string ThisThreadName();

}  // namespace taxhub

#endif  // TAXHUB_HUB_BASE_THREAD_NAME_H_
