// Strata's RESP reader against hiredis' (0.14, the reader the client used before), in the same
// run, on the reply streams a cache client reads: pipelined GET replies of 100 B, 4 KiB and
// 64 KiB, "+OK" for SETs, and arrays of 100 short strings (MGET, SCAN). Both read the stream in
// 64 KiB pieces, as a connection's read loop does; hiredis is fed in 4 KiB slices, as Strata did
// (it moves its unread rest to the front after every 1 KiB consumed, so larger feeds cost more).
//
//   build/release/bench/strata_bench_resp_reader               # ~20 s
//   build/release/bench/strata_bench_resp_reader --rounds 1    # smoke
#include "redis/resp_reader.hpp"
#include "support/hiredis_oracle.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using strata::redis::Reply;
using strata::redis::RespReader;

constexpr std::size_t kReadSize = 64 * 1024;

struct Workload {
  std::string name;
  std::string stream;
  std::size_t replies;
};

std::string bulk(const std::string& value) { return "$" + std::to_string(value.size()) + "\r\n" + value + "\r\n"; }

Workload strings(std::size_t size, std::size_t count) {
  const std::string value(size, 'v');
  std::string stream;
  for (std::size_t i = 0; i < count; ++i) stream += bulk(value);
  return {fmt::format("GET replies, {} B", size), stream, count};
}

Workload statuses(std::size_t count) {
  std::string stream;
  for (std::size_t i = 0; i < count; ++i) stream += "+OK\r\n";
  return {"SET replies (+OK)", stream, count};
}

Workload arrays(std::size_t count) {
  std::string one = "*100\r\n";
  for (int i = 0; i < 100; ++i) one += bulk(fmt::format("user:{:012}", i));
  std::string stream;
  for (std::size_t i = 0; i < count; ++i) stream += one;
  return {"arrays of 100 x 17 B strings", stream, count};
}

// Nanoseconds per reply of one pass over the whole stream.
template <typename Pass>
double ns_per_reply(const Workload& workload, Pass pass) {
  const auto started = Clock::now();
  const std::size_t parsed = pass(workload.stream);
  const double ns = std::chrono::duration<double, std::nano>(Clock::now() - started).count();
  if (parsed != workload.replies) {
    throw std::runtime_error(fmt::format("{}: parsed {} replies of {}", workload.name, parsed, workload.replies));
  }
  return ns / static_cast<double>(workload.replies);
}

std::size_t strata_pass(const std::string& stream) {
  RespReader reader;
  std::size_t replies = 0;
  for (std::size_t offset = 0; offset < stream.size(); offset += kReadSize) {
    reader.parse(stream.data() + offset, std::min(kReadSize, stream.size() - offset), [&](Reply&& reply) {
      replies += reply.is_nil() ? 0 : 1;
      return true;
    });
  }
  if (reader.failed()) throw std::runtime_error("Strata's reader failed: " + reader.error());
  return replies;
}

// hiredis as Strata's client drove it: each 64 KiB read fed in 4 KiB slices, the replies taken
// after each slice.
std::size_t hiredis_pass(const std::string& stream) {
  std::size_t replies = 0;
  const std::string error = strata::redis::testing::parse_with_hiredis(
      stream, 4096, [&](Reply&& reply) { replies += reply.is_nil() ? 0 : 1; });
  if (!error.empty()) throw std::runtime_error("hiredis failed: " + error);
  return replies;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Strata's RESP reader vs hiredis' on the same reply streams"};
  int rounds = 15;
  app.add_option("--rounds", rounds, "Passes over each stream; the best counts")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const std::vector<Workload> workloads = {strings(100, 100'000), strings(4096, 20'000), strings(64 * 1024, 1'000),
                                           statuses(200'000), arrays(2'000)};
  fmt::print("{:<32} {:>14} {:>14} {:>8}\n", "stream (read in 64 KiB pieces)", "hiredis", "strata", "speed-up");
  for (const Workload& workload : workloads) {
    // Interleaved, so drift on a shared machine hits both alike.
    double hiredis = 1e300;
    double strata = 1e300;
    for (int round = 0; round < rounds; ++round) {
      hiredis = std::min(hiredis, ns_per_reply(workload, hiredis_pass));
      strata = std::min(strata, ns_per_reply(workload, strata_pass));
    }
    fmt::print("{:<32} {:>9.0f} ns/r {:>9.0f} ns/r {:>7.2f}x\n", workload.name, hiredis, strata, hiredis / strata);
  }
  fmt::print("(ns per reply, best of {} interleaved passes; a reply is whole: every string of an array built)\n",
             rounds);
  return 0;
}
