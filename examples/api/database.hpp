#pragma once

// The example API's database: a real SQLite file, created and filled with generated data on first
// start (users, video jobs, transcriptions with segments, a game library, meetings with analytics
// rows). Every statement run is counted, so that benchmarks can report queries per request.
// Thread-safe: each thread gets its own connection (SQLite in WAL mode).

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

struct sqlite3;

namespace strata::example {

class DatabaseError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct DataSize {
  int users = 500;
  int jobs = 5000;
  int transcriptions = 2000;
  int segments_per_transcription = 25;
  int games = 3000;
  int meetings = 3000;
  int analytics_per_meeting = 60;
};

struct Job {
  std::int64_t id = 0;
  std::int64_t client_id = 0;
  std::string status;  // queued, running, completed
  std::string current_stage;
  int scenes_completed = 0;
  int scenes_total = 0;
  std::int64_t updated_at = 0;
};

struct Segment {
  int index = 0;
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
  std::string text;
};

struct Transcription {
  std::int64_t id = 0;
  std::int64_t user_id = 0;
  std::string title;
  std::string status;  // processing, completed
  std::string language;
  std::vector<Segment> segments;
};

struct Game {
  std::int64_t id = 0;
  std::string title;
  std::string publisher;
  int release_year = 0;
  int size_mb = 0;
  std::int64_t added_at = 0;
};

struct LibraryPage {
  std::vector<Game> games;
  std::int64_t total = 0;
};

struct SpeakerStats {
  std::string speaker;
  std::int64_t words = 0;
  std::int64_t talk_ms = 0;
  double sentiment = 0.0;
};

struct Dashboard {
  std::int64_t meetings = 0;
  std::int64_t total_minutes = 0;
  double average_sentiment = 0.0;
  double questions_per_meeting = 0.0;
  std::vector<SpeakerStats> top_speakers;
  std::vector<std::pair<std::string, std::int64_t>> meetings_per_month;
};

class Database {
public:
  // Opens (creating and filling when new) the database file.
  Database(std::string path, DataSize size = {});
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  std::optional<Job> job(std::int64_t id);
  bool update_job_progress(std::int64_t id, const std::string& stage, int completed, int total);

  std::optional<Transcription> transcription(std::int64_t id, std::int64_t user_id);
  bool update_transcription(std::int64_t id, std::int64_t user_id, const std::string& title, const std::string& status);
  bool delete_transcription(std::int64_t id, std::int64_t user_id);

  // sort_by: title, release_year, size_mb, added_at (anything else is refused by the caller).
  LibraryPage library_page(int page, int per_page, const std::string& sort_by, bool descending);
  std::int64_t add_game(const std::string& title, const std::string& publisher, int year, int size_mb);

  Dashboard dashboard();
  std::int64_t add_meeting(std::int64_t user_id, const std::string& title, int duration_s);

  [[nodiscard]] std::uint64_t queries() const noexcept { return queries_.load(std::memory_order_relaxed); }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

  class Statement;

private:
  sqlite3* connection();
  void create_and_fill_on(sqlite3* db, const DataSize& size);

  std::string path_;
  std::atomic<std::uint64_t> queries_{0};
  std::mutex connections_mutex_;
  std::vector<sqlite3*> connections_;  // closed on destruction
  std::uint64_t generation_;           // tells thread-local caches which Database they hold
};

}  // namespace strata::example
