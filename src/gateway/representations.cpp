#include "gateway/representations.hpp"

#include <strata/footprint.hpp>

namespace strata::gateway {

Representations::Representations(std::size_t capacity_bytes) : capacity_(capacity_bytes) {}

std::shared_ptr<const StoredResponse> Representations::find(const std::shared_ptr<const StoredResponse>& stored,
                                                            Coding coding) {
  std::lock_guard lock(mutex_);
  const auto found = index_.find(Key{stored.get(), coding});
  if (found == index_.end()) return nullptr;
  const auto slot = found->second;
  // The address may belong to a newer response than the one the form was made from.
  if (slot->source.lock() != stored) {
    erase(slot);
    return nullptr;
  }
  recency_.splice(recency_.begin(), recency_, slot);
  return slot->form;
}

void Representations::keep(const std::shared_ptr<const StoredResponse>& stored, Coding coding,
                           std::shared_ptr<const StoredResponse> form) {
  // The form, its slot in the recency list and in the index.
  const std::size_t size = shared_object_bytes<StoredResponse>() + form->heap_bytes() +
                           allocation_bytes(sizeof(Slot) + 2 * sizeof(void*)) +
                           allocation_bytes(sizeof(std::pair<const Key, std::list<Slot>::iterator>) + sizeof(void*));
  if (size > capacity_ / 4) return;  // one large body must not flush everything else
  std::lock_guard lock(mutex_);
  if (const auto found = index_.find(Key{stored.get(), coding}); found != index_.end()) erase(found->second);
  while (bytes_ + size > capacity_ && !recency_.empty()) erase(std::prev(recency_.end()));
  recency_.push_front(Slot{stored.get(), coding, stored, std::move(form), size});
  index_.emplace(Key{stored.get(), coding}, recency_.begin());
  bytes_ += size;
}

std::size_t Representations::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

void Representations::erase(std::list<Slot>::iterator slot) {
  index_.erase(Key{slot->source_address, slot->coding});
  bytes_ -= slot->bytes;
  recency_.erase(slot);
}

}  // namespace strata::gateway
