// Replies from a Redis server (or whatever answers on its port): the reader must turn any byte
// stream, in any chunking, into replies or a clear error, never a crash or a hang.

#include "redis/resp_reader.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte chooses where the stream is split in two reads.
  const std::size_t split = data[0] % size;
  const char* bytes = reinterpret_cast<const char*>(data + 1);
  const std::size_t length = size - 1;
  strata::redis::RespReader reader;
  reader.feed(bytes, std::min(split, length));
  std::size_t replies = 0;
  while (reader.next()) ++replies;
  if (!reader.failed() && split < length) {
    reader.feed(bytes + split, length - split);
    while (reader.next()) ++replies;
  }
  return 0;
}
