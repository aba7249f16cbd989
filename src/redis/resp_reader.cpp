#include "redis/resp_reader.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <new>

namespace strata::redis {
namespace {

// hiredis builds a reply tree by calling these for every element, child after parent. A root
// reply goes to its reader's slot (the task's privdata), from which next() moves it out before
// hiredis starts the next one: no allocation per reply. A child is constructed in place inside
// its parent's element vector, which createArray sized up front, so the pointer handed back to
// hiredis stays valid.
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
  std::vector<Reply> children(static_cast<std::size_t>(elements));
  return place(task, Reply::array(std::move(children)));
}

void* create_integer(const redisReadTask* task, long long value) {
  return place(task, Reply::integer(value));
}

void* create_nil(const redisReadTask* task) { return place(task, Reply::nil()); }

// hiredis frees only roots (children live inside them), and a root is its reader's slot: a
// reply abandoned on a protocol error, or by a reader freed halfway through it.
void free_object(void* reply) { *static_cast<Reply*>(reply) = Reply(); }

redisReplyObjectFunctions kReplyFunctions = {create_string, create_array, create_integer,
                                             create_nil, free_object};

}  // namespace

void RespReader::FreeReader::operator()(redisReader* reader) const noexcept { redisReaderFree(reader); }

RespReader::RespReader() : reader_(redisReaderCreateWithFunctions(&kReplyFunctions)) {
  if (!reader_) throw std::bad_alloc();
  reader_->privdata = &root_;
  // hiredis frees its idle buffer once it exceeds 16 KiB, which under pipelining means a new
  // allocation for nearly every read; keep up to 1 MiB instead (one per connection).
  reader_->maxbuf = 1024 * 1024;
}

RespReader::~RespReader() = default;

void RespReader::feed(const char* data, std::size_t size) {
  if (failed()) return;
  if (redisReaderFeed(reader_.get(), data, size) != REDIS_OK) error_ = reader_->errstr;
}

void RespReader::parse(const char* data, std::size_t size, const std::function<bool(Reply&&)>& deliver) {
  // hiredis moves the unread rest of its buffer to the front each time 1 KiB has been consumed,
  // which is quadratic in the size of one feed; small slices keep every move small.
  constexpr std::size_t kSlice = 4096;
  for (std::size_t offset = 0; offset < size && !failed(); offset += kSlice) {
    feed(data + offset, std::min(kSlice, size - offset));
    while (auto reply = next()) {
      if (!deliver(std::move(*reply))) return;
    }
  }
}

std::optional<Reply> RespReader::next() {
  if (failed()) return std::nullopt;
  void* raw = nullptr;
  if (redisReaderGetReply(reader_.get(), &raw) != REDIS_OK) {
    error_ = reader_->errstr[0] != '\0' ? reader_->errstr : "malformed RESP";
    return std::nullopt;
  }
  if (raw == nullptr) return std::nullopt;
  return std::move(*static_cast<Reply*>(raw));  // the slot: hiredis has let go of it
}

}  // namespace strata::redis
