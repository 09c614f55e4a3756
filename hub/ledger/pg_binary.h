// A PostgreSQL array built in its binary wire format, for a statement's binary parameter. Only
// the PostgreSQL ledger and the raw baseline of `make bench` include this (and so pqxx).
#pragma once

#include <pqxx/binarystring>

#include <bit>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace taxhub::ledger {

// One column of rows as a PostgreSQL array in the binary format of array_send(), one element per
// row: sent as a binary parameter, it reaches the server without being quoted, lexed or parsed
// as text, and bytes go as themselves rather than in hex. (As text literals in EXECUTE, the same
// arrays cost the backend a quarter to a third more CPU on durable intake at 1 x 16: 2.4-2.5 s
// against 1.9 s for 40k submits.)
class BinaryArray {
 public:
  // The element type, by its OID in pg_type.
  enum Type : uint32_t { kBool = 16, kBytea = 17, kInt8 = 20, kText = 25, kFloat8 = 701 };
  explicit BinaryArray(Type type) : type_(type) {}

  // Text columns hold no NUL (input checks refuse it); the server would refuse one.
  void Text(std::string_view value) {
    if (value.find('\0') != std::string_view::npos) throw std::invalid_argument("a NUL in a text column");
    Element(value);
  }
  void Bytes(std::string_view value) { Element(value); }
  void Number(int64_t value) { Fixed(static_cast<uint64_t>(value), 8); }
  void Real(double value) { Fixed(std::bit_cast<uint64_t>(value), 8); }
  void Bool(bool value) { Fixed(value ? 1 : 0, 1); }

  // The array: a one-dimensional one of the elements added, or an empty one.
  pqxx::binarystring Done() const {
    std::string out;
    out.reserve(20 + elements_.size());
    Put(out, count_ ? 1 : 0, 4);  // dimensions
    Put(out, 0, 4);               // no NULLs
    Put(out, type_, 4);
    if (count_) {
      Put(out, count_, 4);
      Put(out, 1, 4);  // the lower bound
    }
    out += elements_;
    return pqxx::binarystring(out);
  }

 private:
  static void Put(std::string& out, uint64_t value, int bytes) {  // big-endian
    for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) out += static_cast<char>(value >> shift);
  }
  void Element(std::string_view value) {
    // A field holds at most 1 GB; a longer one would also overflow the length.
    if (value.size() >= (1u << 30)) throw std::length_error("a field over 1 GB");
    ++count_;
    Put(elements_, value.size(), 4);
    elements_ += value;
  }
  void Fixed(uint64_t value, int bytes) {
    ++count_;
    Put(elements_, bytes, 4);
    Put(elements_, value, bytes);
  }

  Type type_;
  uint32_t count_ = 0;
  std::string elements_;
};

}  // namespace taxhub::ledger
