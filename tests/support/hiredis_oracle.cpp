#include "hiredis_oracle.hpp"

#include <hiredis/hiredis.h>

#include <memory>
#include <new>

namespace strata::redis::testing {
namespace {

// hiredis builds a reply tree by calling these for every element, child after parent. A root
// goes to the reader's slot (privdata); a child is constructed inside its parent's element
// vector, which create_array sized up front.
Reply* place(const redisReadTask* task, Reply value) {
  Reply* slot = nullptr;
  if (task->parent != nullptr) {
    auto* parent = static_cast<Reply*>(task->parent->obj);
    slot = &parent->mutable_elements()[static_cast<std::size_t>(task->idx)];
  } else {
    slot = static_cast<Reply*>(task->privdata);
  }
  *slot = std::move(value);
  return slot;
}

void* create_string(const redisReadTask* task, char* data, std::size_t length) {
  std::string bytes(data, length);
  switch (task->type) {
    case REDIS_REPLY_ERROR: return place(task, Reply::error(std::move(bytes)));
    case REDIS_REPLY_STATUS: return place(task, Reply::status(std::move(bytes)));
    default: return place(task, Reply::string(std::move(bytes)));
  }
}

void* create_array(const redisReadTask* task, int elements) {
  return place(task, Reply::array(std::vector<Reply>(static_cast<std::size_t>(elements))));
}

void* create_integer(const redisReadTask* task, long long value) { return place(task, Reply::integer(value)); }

void* create_nil(const redisReadTask* task) { return place(task, Reply::nil()); }

void free_object(void* reply) { *static_cast<Reply*>(reply) = Reply(); }

redisReplyObjectFunctions kReplyFunctions = {create_string, create_array, create_integer, create_nil,
                                             free_object};

struct FreeReader {
  void operator()(redisReader* reader) const noexcept { redisReaderFree(reader); }
};

}  // namespace

std::string parse_with_hiredis(std::string_view stream, std::size_t chunk, const std::function<void(Reply&&)>& take) {
  Reply root;  // declared before the reader, which may free into it
  std::unique_ptr<redisReader, FreeReader> reader(redisReaderCreateWithFunctions(&kReplyFunctions));
  if (!reader) throw std::bad_alloc();
  reader->privdata = &root;
  // As Strata's client configured it: hiredis frees its idle buffer past 16 KiB by default, which
  // under pipelining means an allocation for nearly every read; keep up to 1 MiB instead.
  reader->maxbuf = 1024 * 1024;
  for (std::size_t offset = 0; offset < stream.size(); offset += chunk) {
    const auto piece = stream.substr(offset, chunk);
    if (redisReaderFeed(reader.get(), piece.data(), piece.size()) != REDIS_OK) return reader->errstr;
    for (;;) {
      void* raw = nullptr;
      if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK) {
        return reader->errstr[0] != '\0' ? reader->errstr : "malformed RESP";
      }
      if (raw == nullptr) break;
      take(std::move(*static_cast<Reply*>(raw)));
    }
  }
  return {};
}

HiredisParse parse_with_hiredis(std::string_view stream, std::size_t chunk) {
  HiredisParse out;
  out.error = parse_with_hiredis(stream, chunk, [&](Reply&& reply) { out.replies.push_back(std::move(reply)); });
  return out;
}

}  // namespace strata::redis::testing
