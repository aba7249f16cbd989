#pragma once

// Redis Cluster key slots (the cluster specification's key distribution model): CRC16-CCITT
// (XMODEM) of the key, or of its hash tag, modulo 16384. The cluster client routes every command
// by it; keys a script touches together must share a slot, which hash tags arrange.

#include <cstdint>
#include <string_view>

namespace strata::redis {

inline constexpr std::uint16_t kClusterSlots = 16384;

// CRC16-CCITT, polynomial 0x1021, initial value 0, no reflection (what Redis Cluster uses).
std::uint16_t crc16(std::string_view bytes) noexcept;

// The part of `key` that decides its slot: the text between the first '{' and the next '}'
// when that is non-empty, else the whole key.
std::string_view hash_tag(std::string_view key) noexcept;

std::uint16_t key_slot(std::string_view key) noexcept;

}  // namespace strata::redis
