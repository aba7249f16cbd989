#include "cache/keyspace.hpp"

#include <openssl/evp.h>

#include <array>
#include <charconv>
#include <stdexcept>

namespace strata::cache {
namespace {

constexpr char kHex[] = "0123456789abcdef";

constexpr bool plain_byte(unsigned char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '/' || c == '@' || c == '+' || c == '=' || c == ',' || c == '-';
}

// Every key part of every call passes through here: one table load per byte.
constexpr std::array<bool, 256> kPlain = [] {
  std::array<bool, 256> table{};
  for (unsigned c = 0; c < 256; ++c) table[c] = plain_byte(static_cast<unsigned char>(c));
  return table;
}();

bool is_plain(unsigned char c) noexcept { return kPlain[c]; }

std::string sha256_hex(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed in OpenSSL");
  }
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xF]);
  }
  return hex;
}

// Keeps the key readable up to a point, never cutting a %XX escape in half.
std::string shortened(const std::string& key) {
  const std::string digest = sha256_hex(key);
  std::size_t head = Keyspace::kMaxKeyBytes - 1 - digest.size();
  if (head >= 1 && key[head - 1] == '%') head -= 1;
  else if (head >= 2 && key[head - 2] == '%') head -= 2;
  return key.substr(0, head) + "~" + digest;
}

}  // namespace

void append_escaped(std::string& out, std::string_view piece) {
  std::size_t plain_from = 0;  // runs of plain bytes are appended at once
  for (std::size_t i = 0; i < piece.size(); ++i) {
    const auto c = static_cast<unsigned char>(piece[i]);
    if (is_plain(c)) continue;
    out.append(piece.data() + plain_from, i - plain_from);
    const char escape[] = {'%', kHex[c >> 4], kHex[c & 0xF]};
    out.append(escape, sizeof escape);
    plain_from = i + 1;
  }
  out.append(piece.data() + plain_from, piece.size() - plain_from);
}

std::string escaped(std::string_view piece) {
  std::string out;
  out.reserve(piece.size());
  append_escaped(out, piece);
  return out;
}

Keyspace::Keyspace(std::string_view prefix) : prefix_(escaped(prefix)) {
  if (prefix.empty()) {
    throw std::invalid_argument(
        "cache prefix is empty: set CacheOptions::prefix to a name for this application's keys, "
        "e.g. \"myapp\"");
  }
}

std::string Keyspace::entry(const Key& key, std::uint64_t generation) const {
  return entry_under(entry_head(key.name_space(), generation), key);
}

std::string Keyspace::entry_head(std::string_view name_space, std::uint64_t generation) const {
  std::string out;
  out.reserve(prefix_.size() + name_space.size() + 24);
  out += prefix_;
  out.push_back(':');
  append_escaped(out, name_space);
  out += ":g";
  std::array<char, 24> digits{};
  const auto [end, error] = std::to_chars(digits.data(), digits.data() + digits.size(), generation);
  out.append(digits.data(), end);
  return out;
}

std::string Keyspace::entry_under(std::string_view head, const Key& key) {
  const std::string& parts = key.escaped_parts();
  std::string out;
  out.reserve(head.size() + parts.size());
  out += head;
  out += parts;
  if (out.size() > kMaxKeyBytes) return shortened(out);
  return out;
}

// Control keys share the hash tag {<prefix>}: in a Redis Cluster they live in one slot, so one
// script can read and write them together. Entries spread over every slot, and an entry's
// mark and lock carry the entry key itself as their tag, so they sit in the entry's slot.
std::string Keyspace::control(std::string_view what) const { return "{" + prefix_ + "}#" + std::string(what); }

std::string Keyspace::generation(std::string_view name_space) const {
  return control("gen:") + escaped(name_space);
}
std::string Keyspace::epoch() const { return control("epoch"); }
std::string Keyspace::tag_mark(std::string_view tag) const { return control("tag:") + escaped(tag); }
std::string Keyspace::tag_members(std::string_view tag) const { return control("members:") + escaped(tag); }
std::string Keyspace::key_mark(std::string_view entry_key) const {
  return "{" + std::string(entry_key) + "}#mark";
}
std::string Keyspace::clear_mark() const { return control("clear"); }
std::string Keyspace::filling() const { return control("filling"); }
std::string Keyspace::lock(std::string_view entry_key) const {
  return "{" + std::string(entry_key) + "}#lock";
}
std::string Keyspace::bus_channel() const { return prefix_ + "#bus"; }
std::string Keyspace::all_entries_pattern() const { return prefix_ + ":*"; }
std::string Keyspace::all_tag_sets_pattern() const { return control("members:*"); }

Keyspace::PatternPlan Keyspace::plan_pattern(std::string_view glob) {
  if (glob.empty()) {
    throw std::invalid_argument(
        "invalidation pattern is empty: give a glob over \"namespace:part:...\", e.g. \"library:*\"");
  }
  PatternPlan plan;
  std::string* out = &plan.first_segment_glob;
  bool literal_first = true;
  std::string literal_namespace;
  for (std::size_t i = 0; i < glob.size(); ++i) {
    const char c = glob[i];
    const bool in_first = out == &plan.first_segment_glob;
    if (c == ':' ) {
      if (in_first) {
        out = &plan.rest;
        plan.has_rest = true;
      } else {
        out->push_back(':');
      }
    } else if (c == '\\') {
      if (i + 1 == glob.size()) {
        throw std::invalid_argument("invalidation pattern \"" + std::string(glob) +
                                    "\" ends in '\\': quote a character (\"\\*\") or drop it");
      }
      append_escaped(*out, glob.substr(++i, 1));
      if (in_first) literal_namespace.push_back(glob[i]);
    } else if (c == '*' || c == '?') {
      out->push_back(c);
      if (in_first) literal_first = false;
    } else if (c == '[') {
      const auto close = glob.find(']', i + 1);
      if (close == std::string_view::npos) {
        throw std::invalid_argument("invalidation pattern \"" + std::string(glob) +
                                    "\" opens '[' at offset " + std::to_string(i) +
                                    " without a closing ']': close the set or quote it as \"\\[\"");
      }
      // A set stays a glob set; its members are single raw characters, which only match
      // unescaped characters of a key.
      out->append(glob.substr(i, close - i + 1));
      if (in_first) literal_first = false;
      i = close;
    } else {
      append_escaped(*out, glob.substr(i, 1));
      if (in_first) literal_namespace.push_back(c);
    }
  }
  if (literal_first) {
    plan.name_space = literal_namespace;
    plan.first_is_literal = true;
  }
  return plan;
}

std::string Keyspace::entry_pattern(const PatternPlan& plan, std::uint64_t generation) const {
  std::string out = prefix_ + ":" + plan.first_segment_glob + ":g";
  out += plan.first_is_literal ? std::to_string(generation) : std::string("*");
  if (plan.has_rest) out += ":" + plan.rest;
  return out;
}

bool glob_match(std::string_view pattern, std::string_view text) noexcept {
  std::size_t p = 0, t = 0;
  std::size_t star_p = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    bool advanced = false;
    if (p < pattern.size()) {
      const char pc = pattern[p];
      if (pc == '*') {
        star_p = p++;
        star_t = t;
        continue;
      }
      if (pc == '?') {
        ++p;
        ++t;
        advanced = true;
      } else if (pc == '[') {
        std::size_t q = p + 1;
        const bool negate = q < pattern.size() && pattern[q] == '^';
        if (negate) ++q;
        bool matched = false;
        while (q < pattern.size() && pattern[q] != ']') {
          if (pattern[q] == '\\' && q + 1 < pattern.size()) {
            matched |= pattern[q + 1] == text[t];
            q += 2;
          } else if (q + 2 < pattern.size() && pattern[q + 1] == '-' && pattern[q + 2] != ']') {
            char low = pattern[q], high = pattern[q + 2];
            if (low > high) std::swap(low, high);
            matched |= text[t] >= low && text[t] <= high;
            q += 3;
          } else {
            matched |= pattern[q] == text[t];
            ++q;
          }
        }
        if (matched != negate && q < pattern.size()) {
          p = q + 1;
          ++t;
          advanced = true;
        }
      } else if (pc == '\\' && p + 1 < pattern.size()) {
        if (pattern[p + 1] == text[t]) {
          p += 2;
          ++t;
          advanced = true;
        }
      } else if (pc == text[t]) {
        ++p;
        ++t;
        advanced = true;
      }
    }
    if (advanced) continue;
    if (star_p == std::string_view::npos) return false;
    p = star_p + 1;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace strata::cache
