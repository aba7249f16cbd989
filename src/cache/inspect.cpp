// Cache::inspect: what each tier holds for a key, read without changing anything.

#include "cache/cache_impl.hpp"

#include <strata/memory_store.hpp>

#include <boost/asio/this_coro.hpp>

namespace strata {
namespace asio = boost::asio;

asio::awaitable<EntryInspection> Cache::inspect(Key key, EntryOptions options) {
  auto impl = impl_;
  const cache::ReadPolicy policy = cache::resolve(impl->options_.defaults, options);
  EntryInspection out;
  out.storage_key = co_await impl->entry_key(key, policy.use_l2);
  out.now_ms = impl->now_ms();
  const std::string& full = out.storage_key;

  if (auto peeked = impl->l1_->peek(full)) {
    const auto entry = std::static_pointer_cast<const cache::StoredEntry>(peeked->value.owner());
    StoredCopy copy;
    copy.created_ms = entry->envelope.created_ms;
    copy.fresh_until_ms = entry->envelope.fresh_until_ms;
    copy.stale_until_ms = entry->envelope.stale_until_ms;
    copy.tags = entry->envelope.tags;
    copy.codec = entry->codec->name;
    copy.value = std::string(entry->bytes());
    copy.value_bytes = copy.value.size();
    copy.stored_bytes = MemoryStore::charge_of(full.size(), copy.value_bytes, entry->footprint());
    copy.invalidated = impl->marks_.tags_invalidated_since(entry->sequence, entry->envelope.tags);
    out.l1 = std::move(copy);
  }

  if (!impl->l2_ || !policy.use_l2) {
    out.l2_error = impl->l2_ ? "this entry's options leave Redis out" : "no Redis configured";
    co_return out;
  }
  const asio::any_io_executor caller = co_await asio::this_coro::executor;
  auto reply = co_await impl->l2_->get(full, caller);
  auto read = impl->l2_->interpret(std::move(reply));
  if (!read.ok) {
    out.l2_error = "Redis did not answer";
    co_return out;
  }
  out.l2_checked = true;
  if (read.wrong_type) {
    out.l2_error = "a value that is not a string lives under the key";
    co_return out;
  }
  if (!read.value) co_return out;
  const std::size_t stored_bytes = read.value->size();
  const auto inspected = impl->envelopes_.inspect(*read.value, full);
  if (!inspected.ok) {
    out.l2_error = std::string(cache::describe(inspected.error));
    co_return out;
  }
  const auto& view = inspected.view;
  StoredCopy copy;
  copy.created_ms = view.created_ms;
  copy.fresh_until_ms = view.fresh_until_ms;
  copy.stale_until_ms = view.stale_until_ms;
  copy.tags = view.tags();
  copy.codec = std::string(view.codec);
  copy.stored_bytes = stored_bytes;
  copy.invalidated = impl->marks_.epoch_may_invalidate(view.fill_epoch) &&
                     impl->marks_.epoch_invalidates(view.fill_epoch, copy.tags);
  std::string bytes = std::move(*read.value);
  if (!impl->envelopes_.take_payload(view, std::move(bytes), copy.value)) {
    out.l2_error = std::string(cache::describe(cache::EnvelopeError::decompression));
    co_return out;
  }
  copy.value_bytes = copy.value.size();
  out.l2 = std::move(copy);
  co_return out;
}

}  // namespace strata
