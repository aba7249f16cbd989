#pragma once

#include "cache/keyspace.hpp"
#include "cache/metrics.hpp"

#include <strata/redis/client.hpp>
#include <strata/redis/commands.hpp>
#include <strata/redis/options.hpp>
#include <strata/redis/subscriber.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace strata::cache {

// L2: every Redis operation the cache performs, each one round trip or a bounded series of
// short ones, never KEYS or an unbounded command. Failures come back as values (and count in
// l2_errors); nothing throws. Callable from any executor: work hops onto the tier's strand,
// where the pool and the bus subscriber live.
class RedisTier : public std::enable_shared_from_this<RedisTier> {
public:
  struct Callbacks {
    std::function<void(const std::string& payload)> on_bus_message;
    // Redis answered again after failing, or the bus re-subscribed: invalidations may have been
    // missed meanwhile.
    std::function<void()> on_recovered;
  };

  // Throws std::invalid_argument for a deployment that cannot work (see redis::Client::create).
  RedisTier(boost::asio::any_io_executor executor, redis::Deployment deployment,
            const Keyspace& keyspace, Metrics& metrics, bool bus, Callbacks callbacks,
            std::chrono::milliseconds mark_lifetime, std::chrono::milliseconds command_deadline);
  ~RedisTier();

  // Connects the pool and the bus; true when Redis answered. Never throws; on failure the
  // connections keep retrying in the background.
  boost::asio::awaitable<bool> start();
  void close();

  [[nodiscard]] boost::asio::any_io_executor executor() const noexcept { return strand_; }
  [[nodiscard]] bool available() const noexcept { return available_.load(std::memory_order_acquire); }
  // Highest invalidation epoch seen in any reply or bus message.
  [[nodiscard]] std::uint64_t observed_epoch() const noexcept {
    return observed_epoch_.load(std::memory_order_acquire);
  }
  void observe_epoch(std::uint64_t epoch) noexcept;

  struct Read {
    bool ok = false;                   // Redis answered
    std::optional<std::string> value;  // nullopt: no entry
    bool wrong_type = false;           // a non-string value lives under the key
    std::optional<std::uint64_t> epoch;  // the invalidation epoch read with it (when asked)
  };
  // An L2 hit's GET, then what its reply means. `key` must outlive the await; `caller` is the
  // awaiting coroutine's executor (the work runs in place when that is the strand).
  boost::asio::awaitable<redis::Result<redis::Reply>> get(std::string_view key,
                                                          const boost::asio::any_io_executor& caller);
  Read interpret(redis::Result<redis::Reply>&& reply);
  // The entry together with the invalidation epoch, for a fill's stale-set guard.
  boost::asio::awaitable<Read> read_with_epoch(std::string key);
  boost::asio::awaitable<std::optional<std::uint64_t>> epoch();

  enum class StoreOutcome { stored, refused, failed };
  // fill_epoch nullopt: an explicit write, which also stops older fills of the key from storing.
  boost::asio::awaitable<StoreOutcome> store(std::string key, std::string bytes,
                                             std::chrono::milliseconds lifetime,
                                             std::optional<std::uint64_t> fill_epoch,
                                             std::vector<std::string> tags);
  // Rewrites an existing entry's bytes and lifetime (expire, extend_ttl); false if absent.
  boost::asio::awaitable<std::optional<bool>> rewrite(std::string key, std::string bytes,
                                                      std::chrono::milliseconds lifetime);
  // Removes the entry and marks the key; the epoch, or nullopt when Redis failed.
  boost::asio::awaitable<std::optional<std::uint64_t>> remove(std::string key);
  boost::asio::awaitable<bool> unlink(std::string key);

  boost::asio::awaitable<std::optional<std::uint64_t>> generation(std::string name_space);
  boost::asio::awaitable<std::optional<std::uint64_t>> bump_generation(std::string name_space);

  struct Invalidation {
    bool ok = false;
    std::uint64_t epoch = 0;
    std::uint64_t removed = 0;  // entries deleted
  };
  // Marks the tag, then deletes its members in batches of `batch` (each a short command).
  boost::asio::awaitable<Invalidation> invalidate_tag(std::string tag, std::size_t batch);
  // SCAN + UNLINK in batches.
  boost::asio::awaitable<Invalidation> unlink_matching(std::string pattern, std::size_t batch);
  // How many keys match `pattern` on every master (SCAN; nothing removed). nullopt when Redis failed.
  boost::asio::awaitable<std::optional<std::uint64_t>> count_matching(std::string pattern, std::size_t batch);
  // Marks everything (stops older fills), then unlinks every entry and tag set of the prefix.
  boost::asio::awaitable<Invalidation> clear(std::size_t batch);

  boost::asio::awaitable<bool> publish(std::string payload);

  // Fill lease: true when acquired; nullopt when Redis failed.
  boost::asio::awaitable<std::optional<bool>> try_lock(std::string key, std::string token,
                                                       std::chrono::milliseconds lease);
  boost::asio::awaitable<void> unlock(std::string key, std::string token);

  // Round trip to Redis (health checks, tests).
  boost::asio::awaitable<std::optional<std::chrono::nanoseconds>> ping();
  // INFO <section> as Redis prints it; nullopt when Redis failed.
  boost::asio::awaitable<std::optional<std::string>> info(std::string section);

private:
  // The work of each public operation, run on the strand (the public one only hops there).
  boost::asio::awaitable<bool> start_on_strand();
  boost::asio::awaitable<Read> read_with_epoch_on_strand(std::string key);
  Read as_read(redis::Reply&& value);
  boost::asio::awaitable<std::optional<std::uint64_t>> epoch_on_strand();
  boost::asio::awaitable<StoreOutcome> store_on_strand(std::string key, std::string bytes,
                      std::chrono::milliseconds lifetime, std::optional<std::uint64_t> fill_epoch,
                      std::vector<std::string> tags);
  boost::asio::awaitable<std::optional<bool>> rewrite_on_strand(std::string key, std::string bytes,
                      std::chrono::milliseconds lifetime);
  boost::asio::awaitable<std::optional<std::uint64_t>> remove_on_strand(std::string key);
  boost::asio::awaitable<bool> unlink_on_strand(std::string key);
  boost::asio::awaitable<std::optional<std::uint64_t>> generation_on_strand(std::string name_space);
  boost::asio::awaitable<std::optional<std::uint64_t>> bump_generation_on_strand(std::string name_space);
  boost::asio::awaitable<Invalidation> invalidate_tag_on_strand(std::string tag, std::size_t batch);
  boost::asio::awaitable<Invalidation> unlink_matching_on_strand(std::string pattern, std::size_t batch);
  boost::asio::awaitable<std::optional<std::uint64_t>> count_matching_on_strand(std::string pattern, std::size_t batch);
  boost::asio::awaitable<bool> publish_on_strand(std::string payload);
  boost::asio::awaitable<std::optional<bool>> try_lock_on_strand(std::string key, std::string token,
                      std::chrono::milliseconds lease);
  boost::asio::awaitable<std::optional<std::chrono::nanoseconds>> ping_on_strand();
  boost::asio::awaitable<std::optional<std::string>> info_on_strand(std::string section);
  boost::asio::awaitable<std::optional<redis::Reply>> mark_everything_on_strand(std::string draining_fills);
  boost::asio::awaitable<bool> unlock_on_strand(std::string key, std::string token);

  template <typename T>
  boost::asio::awaitable<T> on_strand(boost::asio::awaitable<T> work);
  // Only a coroutine whose own executor is the strand may run strand work in place.
  [[nodiscard]] bool is_strand(const boost::asio::any_io_executor& executor) const {
    return executor == strand_;
  }
  template <typename T>
  bool check(const redis::Result<T>& result);
  // routing_key: a key the request touches (every key of it shares that key's cluster slot).
  boost::asio::awaitable<std::optional<redis::Reply>> call(std::string_view routing_key, redis::Request request);
  // Keys in KEYS order; keys[0] routes.
  boost::asio::awaitable<std::optional<redis::Reply>> script(const redis::Script& script,
                                                             std::vector<std::string> keys,
                                                             std::vector<std::string> arguments);
  boost::asio::awaitable<std::uint64_t> drain_set(std::string set, std::size_t batch, std::uint64_t epoch,
                                                  bool* ok);
  // Cluster: marks each entry with `epoch` (so fills admitted before it cannot store) and
  // unlinks it, every entry in its own slot, concurrently. Returns how many were deleted.
  boost::asio::awaitable<std::uint64_t> mark_and_unlink(std::vector<std::string> entries, std::uint64_t epoch,
                                                        bool* ok);
  boost::asio::awaitable<StoreOutcome> store_sharded(std::string key, std::string bytes,
                                                     std::chrono::milliseconds lifetime,
                                                     std::optional<std::uint64_t> fill_epoch,
                                                     std::vector<std::string> tags);
  boost::asio::awaitable<Invalidation> unlink_on_every_master(std::string pattern, std::size_t batch);

  // The strand every Redis operation runs on, from core::strand_of: one that any_io_executor
  // holds inline (a strand of any_io_executor was a fifth of the client's work per GET).
  const boost::asio::any_io_executor strand_;
  const Keyspace& keyspace_;
  Metrics& metrics_;
  Callbacks callbacks_;
  const std::chrono::milliseconds mark_lifetime_;
  // Every command a caller waits for (reads, fills, leases, invalidations): CacheOptions::redis_deadline.
  const std::chrono::milliseconds deadline_;
  std::unique_ptr<redis::Client> client_;
  const bool sharded_;
  std::unique_ptr<redis::Subscriber> subscriber_;
  std::atomic<bool> available_{false};
  std::atomic<bool> ever_available_{false};
  std::atomic<std::uint64_t> observed_epoch_{0};
  // Names for tag member sets being drained: unique across processes and calls.
  std::string instance_token_;
  std::uint64_t unique_ = 0;  // strand only
  std::atomic<std::uint64_t> clears_{0};  // names the set-aside filling set of each clear()
};

}  // namespace strata::cache
