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

// Without the spare capacity a worst-case bound or appending left: the result may be stored for
// as long as its entry lives, and a gzipped 1 KiB body would otherwise keep its 1 KiB bound.
std::string fitted(std::string&& text) {
  if (text.capacity() - text.size() > text.size() / 8) text.shrink_to_fit();
  return std::move(text);
}

// zlib's states are set up once per thread and reset for each body: a deflate state is about
// 256 KiB, and allocating, zeroing and freeing it for every response had the allocator hand
// those pages back and fault them in again thousands of times a second.
class ZlibStream {
public:
  enum class Kind { deflate, inflate };
  explicit ZlibStream(Kind kind) : kind_(kind) {}
  ~ZlibStream() { end(); }
  ZlibStream(const ZlibStream&) = delete;
  ZlibStream& operator=(const ZlibStream&) = delete;

  // Ready for a new gzip member at `level` (deflate only), or null when zlib refuses.
  z_stream* reset(int level = 0) {
    if (ready_ && level == level_) {
      ready_ = (kind_ == Kind::deflate ? deflateReset(&stream_) : inflateReset(&stream_)) == Z_OK;
      if (ready_) return &stream_;
    }
    end();
    stream_ = z_stream{};
    level_ = level;
    ready_ = (kind_ == Kind::deflate ? deflateInit2(&stream_, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY)
                                     : inflateInit2(&stream_, 15 + 16)) == Z_OK;  // gzip framing only
    return ready_ ? &stream_ : nullptr;
  }

private:
  void end() {
    if (!ready_) return;
    if (kind_ == Kind::deflate) {
      deflateEnd(&stream_);
    } else {
      inflateEnd(&stream_);
    }
    ready_ = false;
  }

  Kind kind_;
  z_stream stream_{};
  int level_ = 0;
  bool ready_ = false;
};

std::optional<std::string> gunzip(std::string_view encoded, std::size_t max_bytes) {
  thread_local ZlibStream inflater(ZlibStream::Kind::inflate);
  z_stream* const state = inflater.reset();
  if (state == nullptr) return std::nullopt;
  z_stream& stream = *state;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(encoded.data()));
  stream.avail_in = static_cast<uInt>(encoded.size());
  std::string out;
  std::array<char, kChunk> chunk;  // written before it is read
  for (;;) {
    stream.next_out = reinterpret_cast<Bytef*>(chunk.data());
    stream.avail_out = static_cast<uInt>(chunk.size());
    const int status = inflate(&stream, Z_NO_FLUSH);
    if (status != Z_OK && status != Z_STREAM_END) return std::nullopt;
    out.append(chunk.data(), chunk.size() - stream.avail_out);
    if (out.size() > max_bytes) return std::nullopt;
    if (status == Z_STREAM_END) {
      // Members may follow one another (RFC 1952 2.2); bytes after the last are an error.
      if (stream.avail_in == 0) return fitted(std::move(out));
      if (inflateReset(&stream) != Z_OK) return std::nullopt;
      continue;
    }
    if (stream.avail_in == 0 && stream.avail_out != 0) return std::nullopt;  // truncated
  }
}

std::optional<std::string> gzip(std::string_view plain, int level) {
  thread_local ZlibStream deflater(ZlibStream::Kind::deflate);
  z_stream* const state = deflater.reset(std::clamp(level, 1, 9));
  if (state == nullptr) return std::nullopt;
  z_stream& stream = *state;
  std::string out(deflateBound(&stream, static_cast<uLong>(plain.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  stream.avail_in = static_cast<uInt>(plain.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  if (deflate(&stream, Z_FINISH) != Z_STREAM_END) return std::nullopt;  // the bound makes room for all
  out.resize(stream.total_out);
  return fitted(std::move(out));
}

std::optional<std::string> unbrotli(std::string_view encoded, std::size_t max_bytes) {
  const std::unique_ptr<BrotliDecoderState, void (*)(BrotliDecoderState*)> state(
      BrotliDecoderCreateInstance(nullptr, nullptr, nullptr), BrotliDecoderDestroyInstance);
  if (!state) return std::nullopt;
  const auto* next_in = reinterpret_cast<const std::uint8_t*>(encoded.data());
  std::size_t available_in = encoded.size();
  std::string out;
  std::array<char, kChunk> chunk;  // written before it is read
  for (;;) {
    auto* next_out = reinterpret_cast<std::uint8_t*>(chunk.data());
    std::size_t available_out = chunk.size();
    const auto result = BrotliDecoderDecompressStream(state.get(), &available_in, &next_in, &available_out, &next_out, nullptr);
    out.append(chunk.data(), chunk.size() - available_out);
    if (out.size() > max_bytes) return std::nullopt;
    if (result == BROTLI_DECODER_RESULT_SUCCESS) {
      return available_in == 0 ? std::optional(fitted(std::move(out))) : std::nullopt;
    }
    if (result == BROTLI_DECODER_RESULT_ERROR || result == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) return std::nullopt;
  }
}

std::optional<std::string> brotli(std::string_view plain, int level) {
  std::size_t size = BrotliEncoderMaxCompressedSize(plain.size());
  if (size == 0) size = plain.size() + 1024;
  std::string out(size, '\0');
  const bool compressed = BrotliEncoderCompress(std::clamp(level, 0, 11), BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, plain.size(),
                        reinterpret_cast<const std::uint8_t*>(plain.data()), &size,
                        reinterpret_cast<std::uint8_t*>(out.data())) == BROTLI_TRUE;
  if (!compressed) return std::nullopt;
  out.resize(size);
  return fitted(std::move(out));
}

std::optional<std::string> unzstd(std::string_view encoded, std::size_t max_bytes) {
  // One per thread, as zlib's: its buffers are set up once. A session reset keeps the parameters.
  thread_local const std::unique_ptr<ZSTD_DStream, std::size_t (*)(ZSTD_DStream*)> stream = [] {
    std::unique_ptr<ZSTD_DStream, std::size_t (*)(ZSTD_DStream*)> created(ZSTD_createDStream(), ZSTD_freeDStream);
    // RFC 8878 7.2: a decoder for HTTP may refuse windows over 8 MiB.
    if (created) ZSTD_DCtx_setParameter(created.get(), ZSTD_d_windowLogMax, 23);
    return created;
  }();
  if (!stream) return std::nullopt;
  ZSTD_DCtx_reset(stream.get(), ZSTD_reset_session_only);  // a failed body may have left a frame open
  ZSTD_inBuffer input{encoded.data(), encoded.size(), 0};
  std::string out;
  std::array<char, kChunk> chunk;  // written before it is read
  for (;;) {
    ZSTD_outBuffer output{chunk.data(), chunk.size(), 0};
    const std::size_t remaining = ZSTD_decompressStream(stream.get(), &output, &input);
    if (ZSTD_isError(remaining)) return std::nullopt;
    out.append(chunk.data(), output.pos);
    if (out.size() > max_bytes) return std::nullopt;
    // 0: a frame ended; more input may hold another frame.
    if (remaining == 0 && input.pos == input.size) return fitted(std::move(out));
    if (input.pos == input.size && output.pos < output.size) return std::nullopt;  // truncated
  }
}

std::optional<std::string> zstd(std::string_view plain, int level) {
  thread_local const std::unique_ptr<ZSTD_CCtx, std::size_t (*)(ZSTD_CCtx*)> context(ZSTD_createCCtx(), ZSTD_freeCCtx);
  if (!context) return std::nullopt;
  std::string out(ZSTD_compressBound(plain.size()), '\0');
  const auto size = ZSTD_compressCCtx(context.get(), out.data(), out.size(), plain.data(), plain.size(),
                                      std::clamp(level, 1, 19));
  if (ZSTD_isError(size)) return std::nullopt;
  out.resize(size);
  return fitted(std::move(out));
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

std::optional<std::string> encode(Coding coding, std::string_view plain, int level) {
  switch (coding) {
    case Coding::identity: return std::string(plain);
    case Coding::gzip: return gzip(plain, level);
    case Coding::br: return brotli(plain, level);
    case Coding::zstd: return zstd(plain, level);
  }
  return std::string(plain);
}

}  // namespace strata::gateway
