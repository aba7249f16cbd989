#include "support/redis_deployments.hpp"

#include <chrono>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace strata::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string run(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run: " + command);
  char chunk[4096];
  while (const std::size_t n = std::fread(chunk, 1, sizeof chunk, pipe)) output.append(chunk, n);
  ::pclose(pipe);
  return output;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text;
}

// Polls `condition` every 20 ms until it holds, or throws after `limit` naming `what`.
template <typename Condition>
void await_condition(Condition condition, const std::string& what,
                     std::chrono::seconds limit = std::chrono::seconds(30)) {
  const auto deadline = Clock::now() + limit;
  while (!condition()) {
    if (Clock::now() > deadline) throw std::runtime_error("timed out waiting for " + what);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a condition, bounded
  }
}

}  // namespace

RedisCluster::RedisCluster(std::size_t masters, std::size_t replicas) {
  const std::size_t count = masters * (1 + replicas);
  std::string create = "redis-cli --cluster create";
  for (std::size_t i = 0; i < count; ++i) {
    nodes_.push_back(std::make_unique<RedisServer>(std::vector<std::string>{
        "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port",
        kAnyFreePort, "--cluster-node-timeout", "1000", "--repl-diskless-sync-delay", "0"}));
    create += " 127.0.0.1:" + std::to_string(nodes_.back()->port());
  }
  if (masters == 1 && replicas == 0) {
    // redis-cli --cluster create wants three masters; one node takes every slot by itself.
    const std::string added = nodes_[0]->cli({"CLUSTER", "ADDSLOTSRANGE", "0", "16383"});
    if (added.find("OK") == std::string::npos) throw std::runtime_error("CLUSTER ADDSLOTSRANGE failed: " + added);
    wait_until_ok();
    return;
  }
  create += " --cluster-replicas " + std::to_string(replicas) + " --cluster-yes";
  const std::string output = run(create);
  if (output.find("[OK] All 16384 slots covered") == std::string::npos) {
    throw std::runtime_error("redis-cli --cluster create failed:\n" + output);
  }
  wait_until_ok();
  if (replicas > 0) {
    await_condition([&] {
      for (auto& node : nodes_) {
        const std::string info = node->cli({"INFO", "replication"});
        if (info.find("role:slave") != std::string::npos && info.find("master_link_status:up") == std::string::npos) {
          return false;
        }
      }
      return true;
    }, "cluster replicas to sync");
  }
}

std::string RedisCluster::url() const {
  std::string url = "redis+cluster://";
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (i > 0) url += ",";
    url += "127.0.0.1:" + std::to_string(nodes_[i]->port());
  }
  return url;
}

void RedisCluster::wait_until_ok() {
  await_condition([&] {
    for (auto& node : nodes_) {
      if (!node->running()) continue;
      if (node->cli({"CLUSTER", "INFO"}).find("cluster_state:ok") == std::string::npos) return false;
    }
    return true;
  }, "cluster_state:ok on every node");
}

std::string RedisCluster::node_id(std::size_t index) { return trimmed(nodes_[index]->cli({"CLUSTER", "MYID"})); }

std::size_t RedisCluster::owner_of(int slot) {
  for (auto& asked : nodes_) {
    if (!asked->running()) continue;
    std::istringstream lines(asked->cli({"CLUSTER", "NODES"}));
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::string id, address, flags, master, ping, pong, epoch, link, range;
      fields >> id >> address >> flags >> master >> ping >> pong >> epoch >> link;
      if (flags.find("master") == std::string::npos || flags.find("fail") != std::string::npos) continue;
      while (fields >> range) {
        if (range.front() == '[') continue;  // a migration in progress
        const auto dash = range.find('-');
        const int low = std::stoi(range.substr(0, dash));
        const int high = dash == std::string::npos ? low : std::stoi(range.substr(dash + 1));
        if (slot < low || slot > high) continue;
        const int port = std::stoi(address.substr(address.find(':') + 1, address.find('@')));
        for (std::size_t i = 0; i < nodes_.size(); ++i) {
          if (nodes_[i]->port() == port) return i;
        }
      }
    }
    break;
  }
  throw std::runtime_error("no node serves slot " + std::to_string(slot));
}

void RedisCluster::begin_slot_move(int slot, std::size_t from, std::size_t to) {
  const std::string s = std::to_string(slot);
  nodes_[to]->cli({"CLUSTER", "SETSLOT", s, "IMPORTING", node_id(from)});
  nodes_[from]->cli({"CLUSTER", "SETSLOT", s, "MIGRATING", node_id(to)});
}

void RedisCluster::migrate_keys(int slot, std::size_t from, std::size_t to) {
  const std::string s = std::to_string(slot);
  for (;;) {
    std::istringstream keys(nodes_[from]->cli({"CLUSTER", "GETKEYSINSLOT", s, "100"}));
    std::vector<std::string> command{"MIGRATE", "127.0.0.1", std::to_string(nodes_[to]->port()), "", "0", "5000", "KEYS"};
    std::string key;
    while (std::getline(keys, key)) {
      if (!key.empty()) command.push_back(key);
    }
    if (command.size() == 7) return;
    const std::string answer = nodes_[from]->cli(command);
    if (answer.find("OK") == std::string::npos && answer.find("NOKEY") == std::string::npos) {
      throw std::runtime_error("MIGRATE failed: " + answer);
    }
  }
}

void RedisCluster::finish_slot_move(int slot, std::size_t to) {
  const std::string s = std::to_string(slot);
  const std::string id = node_id(to);
  nodes_[to]->cli({"CLUSTER", "SETSLOT", s, "NODE", id});
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (i != to && nodes_[i]->running()) nodes_[i]->cli({"CLUSTER", "SETSLOT", s, "NODE", id});
  }
}

void RedisCluster::move_slot(int slot, std::size_t from, std::size_t to) {
  begin_slot_move(slot, from, to);
  migrate_keys(slot, from, to);
  finish_slot_move(slot, to);
}

void RedisCluster::flush_all() {
  for (auto& node : nodes_) {
    if (node->running() && node->cli({"ROLE"}).find("master") != std::string::npos) node->cli({"FLUSHALL"});
  }
}

// ---------------------------------------------------------------------------------------------

SentinelSetup::SentinelSetup(std::string data_password, std::string sentinel_password,
                             const TestCertificates* sentinel_tls)
    : data_password_(std::move(data_password)), sentinel_password_(std::move(sentinel_password)) {
  // Replicas sync at once, not after the default 5 s wait for more replicas to join.
  std::vector<std::string> auth{"--repl-diskless-sync-delay", "0"};
  if (!data_password_.empty()) auth.insert(auth.end(), {"--requirepass", data_password_, "--masterauth", data_password_});
  first_ = std::make_unique<RedisServer>(auth);
  std::vector<std::string> replica = auth;
  replica.insert(replica.end(), {"--replicaof", "127.0.0.1", std::to_string(first_->port())});
  second_ = std::make_unique<RedisServer>(replica);
  await_condition([&] {
    return second_->cli({"INFO", "replication"}, data_password_).find("master_link_status:up") != std::string::npos;
  }, "the replica to sync");
  const std::string configuration =
      std::string("sentinel monitor ") + kMasterName + " 127.0.0.1 " + std::to_string(first_->port()) + " 2\n" +
      "sentinel down-after-milliseconds " + kMasterName + " 1000\n" +
      "sentinel failover-timeout " + kMasterName + " 10000\n" +
      "sentinel parallel-syncs " + kMasterName + " 1\n" +
      (data_password_.empty() ? "" : "sentinel auth-pass " + std::string(kMasterName) + " " + data_password_ + "\n") +
      (sentinel_password_.empty() ? "" : "requirepass " + sentinel_password_ + "\n") +
      (sentinel_tls == nullptr ? ""
                               : "tls-cert-file " + sentinel_tls->server_cert_file() + "\ntls-key-file " +
                                     sentinel_tls->server_key_file() + "\ntls-ca-cert-file " +
                                     sentinel_tls->ca_file() + "\ntls-auth-clients no\n");
  for (int i = 0; i < 3; ++i) {
    sentinels_.push_back(RedisServer::sentinel(configuration, sentinel_tls ? sentinel_tls->ca_file() : ""));
  }
  // A sentinel can fail over only to a replica it knows of (it learns them from INFO).
  for (auto& sentinel : sentinels_) {
    await_condition([&] {
      return sentinel->cli({"SENTINEL", "REPLICAS", kMasterName}, sentinel_password_).find(std::to_string(second_->port())) !=
             std::string::npos;
    }, "the sentinels to see the replica");
  }
}

std::string SentinelSetup::url() const {
  std::string url = "redis+sentinel://";
  for (std::size_t i = 0; i < sentinels_.size(); ++i) {
    if (i > 0) url += ",";
    url += "127.0.0.1:" + std::to_string(sentinels_[i]->port());
  }
  return url + "/" + kMasterName;
}

std::uint16_t SentinelSetup::master_port() {
  std::istringstream lines(sentinels_[0]->cli({"SENTINEL", "GET-MASTER-ADDR-BY-NAME", kMasterName}, sentinel_password_));
  std::string host, port;
  std::getline(lines, host);
  std::getline(lines, port);
  return static_cast<std::uint16_t>(std::stoi(port));
}

RedisServer& SentinelSetup::data_node(std::uint16_t port) { return first_->port() == port ? *first_ : *second_; }

std::uint16_t SentinelSetup::failover() {
  const std::uint16_t old_port = master_port();
  const std::uint16_t new_port = old_port == first_->port() ? second_->port() : first_->port();
  // SENTINEL FAILOVER refuses while an earlier failover's timeout runs; retry until accepted.
  await_condition([&] {
    return sentinels_[0]->cli({"SENTINEL", "FAILOVER", kMasterName}, sentinel_password_).find("OK") != std::string::npos;
  }, "SENTINEL FAILOVER to be accepted");
  await_condition([&] {
    for (auto& sentinel : sentinels_) {
      if (sentinel->cli({"SENTINEL", "GET-MASTER-ADDR-BY-NAME", kMasterName}, sentinel_password_).find(std::to_string(new_port)) ==
          std::string::npos) {
        return false;
      }
    }
    return data_node(new_port).cli({"ROLE"}, data_password_).find("master") != std::string::npos;
  }, "the sentinels to name the new master");
  return new_port;
}

}  // namespace strata::testing
