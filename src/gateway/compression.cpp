#include "gateway/compression.hpp"

#include "gateway/http_cache.hpp"
#include "gateway/route.hpp"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <memory>

namespace strata::gateway {

namespace {

constexpr std::size_t kChunk = 64 * 1024;

std::optional<std::string> gunzip(std::string_view encoded, std::size_t max_bytes) {
  z_stream stream{};
  if (inflateInit2(&stream, 15 + 16) != Z_OK) return std::nullopt;  // gzip framing only
  const std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&stream, inflateEnd);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(encoded.data()));
  stream.avail_in = static_cast<uInt>(encoded.size());
  std::string out;
  std::array<char, kChunk> chunk{};
  for (;;) {
    stream.next_out = reinterpret_cast<Bytef*>(chunk.data());
    stream.avail_out = static_cast<uInt>(chunk.size());
    const int status = inflate(&stream, Z_NO_FLUSH);
    if (status != Z_OK && status != Z_STREAM_END) return std::nullopt;
    out.append(chunk.data(), chunk.size() - stream.avail_out);
    if (out.size() > max_bytes) return std::nullopt;
    if (status == Z_STREAM_END) {
      // Members may follow one another (RFC 1952 2.2); bytes after the last are an error.
      if (stream.avail_in == 0) return out;
      if (inflateReset(&stream) != Z_OK) return std::nullopt;
      continue;
    }
    if (stream.avail_in == 0 && stream.avail_out != 0) return std::nullopt;  // truncated
  }
}

std::string gzip(std::string_view plain, int level) {
  z_stream stream{};
  deflateInit2(&stream, std::clamp(level, 1, 9), Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  const std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&stream, deflateEnd);
  std::string out(deflateBound(&stream, static_cast<uLong>(plain.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  stream.avail_in = static_cast<uInt>(plain.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  return out;
}

std::optional<std::string> unbrotli(std::string_view encoded, std::size_t max_bytes) {
  const std::unique_ptr<BrotliDecoderState, void (*)(BrotliDecoderState*)> state(
      BrotliDecoderCreateInstance(nullptr, nullptr, nullptr), BrotliDecoderDestroyInstance);
  if (!state) return std::nullopt;
  const auto* next_in = reinterpret_cast<const std::uint8_t*>(encoded.data());
  std::size_t available_in = encoded.size();
  std::string out;
  std::array<char, kChunk> chunk{};
  for (;;) {
    auto* next_out = reinterpret_cast<std::uint8_t*>(chunk.data());
    std::size_t available_out = chunk.size();
    const auto result = BrotliDecoderDecompressStream(state.get(), &available_in, &next_in, &available_out, &next_out, nullptr);
    out.append(chunk.data(), chunk.size() - available_out);
    if (out.size() > max_bytes) return std::nullopt;
    if (result == BROTLI_DECODER_RESULT_SUCCESS) return available_in == 0 ? std::optional(std::move(out)) : std::nullopt;
    if (result == BROTLI_DECODER_RESULT_ERROR || result == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) return std::nullopt;
  }
}

std::string brotli(std::string_view plain, int level) {
  std::size_t size = BrotliEncoderMaxCompressedSize(plain.size());
  if (size == 0) size = plain.size() + 1024;
  std::string out(size, '\0');
  BrotliEncoderCompress(std::clamp(level, 0, 11), BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, plain.size(),
                        reinterpret_cast<const std::uint8_t*>(plain.data()), &size,
                        reinterpret_cast<std::uint8_t*>(out.data()));
  out.resize(size);
  return out;
}

std::optional<std::string> unzstd(std::string_view encoded, std::size_t max_bytes) {
  const std::unique_ptr<ZSTD_DStream, std::size_t (*)(ZSTD_DStream*)> stream(ZSTD_createDStream(), ZSTD_freeDStream);
  if (!stream) return std::nullopt;
  // RFC 8878 7.2: a decoder for HTTP may refuse windows over 8 MiB.
  ZSTD_DCtx_setParameter(stream.get(), ZSTD_d_windowLogMax, 23);
  ZSTD_inBuffer input{encoded.data(), encoded.size(), 0};
  std::string out;
  std::array<char, kChunk> chunk{};
  for (;;) {
    ZSTD_outBuffer output{chunk.data(), chunk.size(), 0};
    const std::size_t remaining = ZSTD_decompressStream(stream.get(), &output, &input);
    if (ZSTD_isError(remaining)) return std::nullopt;
    out.append(chunk.data(), output.pos);
    if (out.size() > max_bytes) return std::nullopt;
    // 0: a frame ended; more input may hold another frame.
    if (remaining == 0 && input.pos == input.size) return out;
    if (input.pos == input.size && output.pos < output.size) return std::nullopt;  // truncated
  }
}

std::string zstd(std::string_view plain, int level) {
  std::string out(ZSTD_compressBound(plain.size()), '\0');
  const auto size = ZSTD_compress(out.data(), out.size(), plain.data(), plain.size(), std::clamp(level, 1, 19));
  out.resize(ZSTD_isError(size) ? 0 : size);
  return out;
}

}  // namespace

std::optional<Coding> coding_named(std::string_view content_encoding) {
  const auto codings = split_list(content_encoding);
  if (codings.empty()) return Coding::identity;
  if (codings.size() > 1) return std::nullopt;
  const auto name = ascii_lower(codings.front());
  if (name == "gzip" || name == "x-gzip") return Coding::gzip;
  if (name == "br") return Coding::br;
  if (name == "zstd") return Coding::zstd;
  if (name == "identity") return Coding::identity;
  return std::nullopt;
}

std::string_view coding_name(Coding coding) {
  switch (coding) {
    case Coding::identity: return "identity";
    case Coding::gzip: return "gzip";
    case Coding::br: return "br";
    case Coding::zstd: return "zstd";
  }
  return "identity";
}

std::optional<std::string> decode(Coding coding, std::string_view encoded, std::size_t max_bytes) {
  switch (coding) {
    case Coding::identity:
      if (encoded.size() > max_bytes) return std::nullopt;
      return std::string(encoded);
    case Coding::gzip: return gunzip(encoded, max_bytes);
    case Coding::br: return unbrotli(encoded, max_bytes);
    case Coding::zstd: return unzstd(encoded, max_bytes);
  }
  return std::nullopt;
}

std::string encode(Coding coding, std::string_view plain, int level) {
  switch (coding) {
    case Coding::identity: return std::string(plain);
    case Coding::gzip: return gzip(plain, level);
    case Coding::br: return brotli(plain, level);
    case Coding::zstd: return zstd(plain, level);
  }
  return std::string(plain);
}

}  // namespace strata::gateway
