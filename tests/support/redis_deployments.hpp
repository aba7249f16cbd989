#pragma once

#include "support/redis_server.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace strata::testing {

// A Redis Cluster on loopback made by `redis-cli --cluster create`: `masters` masters with
// `replicas` replicas each, every node on free ports (client and bus), no persistence. Stopped
// on destruction.
class RedisCluster {
public:
  explicit RedisCluster(std::size_t masters = 3, std::size_t replicas = 0);
  RedisCluster(const RedisCluster&) = delete;
  RedisCluster& operator=(const RedisCluster&) = delete;

  // redis+cluster://127.0.0.1:<port>,... naming every node.
  [[nodiscard]] std::string url() const;
  [[nodiscard]] std::size_t size() const noexcept { return nodes_.size(); }
  RedisServer& node(std::size_t index) { return *nodes_[index]; }
  // The node serving `slot` now (asked of node 0's view), or the first live node's view.
  std::size_t owner_of(int slot);
  // Moves a slot and its keys from one node to another as redis-cli --cluster reshard does:
  // IMPORTING / MIGRATING, MIGRATE in batches, then SETSLOT NODE everywhere.
  void move_slot(int slot, std::size_t from, std::size_t to);
  // The first half of move_slot: the slot is MIGRATING on `from`, IMPORTING on `to`; keys
  // present on `from` stay there until migrate_keys(). Clients get ASK for keys not on `from`.
  void begin_slot_move(int slot, std::size_t from, std::size_t to);
  void migrate_keys(int slot, std::size_t from, std::size_t to);
  void finish_slot_move(int slot, std::size_t to);
  // Waits (bounded) until every live node reports cluster_state:ok.
  void wait_until_ok();
  [[nodiscard]] std::string node_id(std::size_t index);

  // Runs FLUSHALL on every live master.
  void flush_all();

private:
  std::vector<std::unique_ptr<RedisServer>> nodes_;
};

// One master, one replica and three sentinels monitoring it as "strata-master" (quorum 2,
// down-after 1 s), all on loopback.
class SentinelSetup {
public:
  static constexpr const char* kMasterName = "strata-master";

  // With passwords, the data nodes (requirepass, masterauth) and the sentinels (requirepass)
  // each require their own.
  // With `sentinel_tls`, the sentinels accept TLS only, with its server certificate.
  explicit SentinelSetup(std::string data_password = {}, std::string sentinel_password = {},
                         const TestCertificates* sentinel_tls = nullptr);
  SentinelSetup(const SentinelSetup&) = delete;
  SentinelSetup& operator=(const SentinelSetup&) = delete;

  // redis+sentinel://127.0.0.1:<s1>,...,127.0.0.1:<s3>/strata-master
  [[nodiscard]] std::string url() const;
  // The port the sentinels name as master now.
  std::uint16_t master_port();
  // The data server on that port.
  RedisServer& data_node(std::uint16_t port);
  RedisServer& sentinel(std::size_t index) { return *sentinels_[index]; }
  // SENTINEL FAILOVER, then waits (bounded) until the sentinels name the replica and it says
  // ROLE master. Returns the new master's port.
  std::uint16_t failover();

private:
  std::unique_ptr<RedisServer> first_;
  std::unique_ptr<RedisServer> second_;
  std::vector<std::unique_ptr<RedisServer>> sentinels_;
  std::string data_password_;
  std::string sentinel_password_;
};

}  // namespace strata::testing
