#include "database.hpp"

#include <sqlite3.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <random>
#include <sys/stat.h>
#include <unordered_map>

namespace strata::example {

namespace {

std::atomic<std::uint64_t> next_generation{1};

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string what = message != nullptr ? message : "unknown error";
    sqlite3_free(message);
    throw DatabaseError(std::string("SQLite: ") + what + " in: " + sql);
  }
}

}  // namespace

// A prepared statement, finalized on scope exit; every step() that starts a statement counts as
// one query.
class Database::Statement {
public:
  Statement(Database& database, sqlite3* db, const char* sql) : database_(database), db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &statement_, nullptr) != SQLITE_OK) {
      throw DatabaseError(std::string("SQLite: ") + sqlite3_errmsg(db) + " in: " + sql);
    }
  }
  ~Statement() { sqlite3_finalize(statement_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::int64_t value) {
    sqlite3_bind_int64(statement_, index, value);
    return *this;
  }
  Statement& bind(int index, const std::string& value) {
    sqlite3_bind_text(statement_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int index, double value) {
    sqlite3_bind_double(statement_, index, value);
    return *this;
  }
  // True while there is a row.
  bool step() {
    if (!started_) {
      started_ = true;
      database_.queries_.fetch_add(1, std::memory_order_relaxed);
    }
    const int status = sqlite3_step(statement_);
    if (status == SQLITE_ROW) return true;
    if (status == SQLITE_DONE) return false;
    throw DatabaseError(std::string("SQLite: ") + sqlite3_errmsg(db_));
  }
  void reset() {
    sqlite3_reset(statement_);
    started_ = false;
  }
  std::int64_t integer(int column) const { return sqlite3_column_int64(statement_, column); }
  double real(int column) const { return sqlite3_column_double(statement_, column); }
  std::string text(int column) const {
    const auto* data = sqlite3_column_text(statement_, column);
    return data == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(data));
  }
  int changes() const { return sqlite3_changes(db_); }

private:
  Database& database_;
  sqlite3* db_;
  sqlite3_stmt* statement_ = nullptr;
  bool started_ = false;
};

Database::Database(std::string path, DataSize size) : path_(std::move(path)), generation_(next_generation++) {
  struct stat info {};
  const bool exists = ::stat(path_.c_str(), &info) == 0 && info.st_size > 0;
  if (!exists) {
    // Built under a temporary name and renamed: an interrupted first start leaves no half-filled
    // database behind.
    const std::string building = path_ + ".building";
    std::remove(building.c_str());
    sqlite3* db = nullptr;
    if (sqlite3_open(building.c_str(), &db) != SQLITE_OK) {
      const std::string why = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
      sqlite3_close(db);
      throw DatabaseError("cannot create the database " + building + ": " + why);
    }
    try {
      {
        std::lock_guard lock(connections_mutex_);
        connections_.push_back(db);
      }
      create_and_fill_on(db, size);
    } catch (...) {
      sqlite3_close(db);
      std::remove(building.c_str());
      throw;
    }
    {
      std::lock_guard lock(connections_mutex_);
      connections_.clear();
    }
    sqlite3_close(db);
    if (std::rename(building.c_str(), path_.c_str()) != 0) throw DatabaseError("cannot rename " + building + " to " + path_);
  }
}

Database::~Database() {
  std::lock_guard lock(connections_mutex_);
  for (auto* db : connections_) sqlite3_close(db);
}

sqlite3* Database::connection() {
  thread_local std::unordered_map<std::uint64_t, sqlite3*> mine;
  if (auto found = mine.find(generation_); found != mine.end()) return found->second;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    const std::string why = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw DatabaseError("cannot open the database " + path_ + ": " + why);
  }
  sqlite3_busy_timeout(db, 5000);
  exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
  {
    std::lock_guard lock(connections_mutex_);
    connections_.push_back(db);
  }
  mine.emplace(generation_, db);
  return db;
}

void Database::create_and_fill_on(sqlite3* db, const DataSize& size) {
  exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;");
  exec(db, R"(
    CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL);
    CREATE TABLE jobs(id INTEGER PRIMARY KEY, client_id INTEGER NOT NULL, status TEXT NOT NULL,
      current_stage TEXT NOT NULL, scenes_completed INTEGER NOT NULL, scenes_total INTEGER NOT NULL,
      updated_at INTEGER NOT NULL);
    CREATE TABLE transcriptions(id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, title TEXT NOT NULL,
      status TEXT NOT NULL, language TEXT NOT NULL);
    CREATE TABLE segments(id INTEGER PRIMARY KEY, transcription_id INTEGER NOT NULL, idx INTEGER NOT NULL,
      start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, text TEXT NOT NULL);
    CREATE INDEX segments_by_transcription ON segments(transcription_id, idx);
    CREATE TABLE games(id INTEGER PRIMARY KEY, title TEXT NOT NULL, publisher TEXT NOT NULL,
      release_year INTEGER NOT NULL, size_mb INTEGER NOT NULL, added_at INTEGER NOT NULL);
    CREATE TABLE meetings(id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, title TEXT NOT NULL,
      started_at INTEGER NOT NULL, duration_s INTEGER NOT NULL);
    CREATE TABLE meeting_analytics(id INTEGER PRIMARY KEY, meeting_id INTEGER NOT NULL, speaker TEXT NOT NULL,
      words INTEGER NOT NULL, talk_ms INTEGER NOT NULL, sentiment REAL NOT NULL, questions INTEGER NOT NULL);
  )");
  std::mt19937_64 random(20261122);
  auto pick = [&](int low, int high) { return std::uniform_int_distribution<int>(low, high)(random); };
  static constexpr std::array<const char*, 12> kWords{"alpha", "render", "scene", "voice", "meeting", "budget",
                                                      "review", "launch", "design", "signal", "cache", "latency"};
  auto words = [&](int count) {
    std::string out;
    for (int i = 0; i < count; ++i) out += std::string(i == 0 ? "" : " ") + kWords[static_cast<std::size_t>(pick(0, 11))];
    return out;
  };
  const auto now = now_seconds();
  exec(db, "BEGIN");
  {
    Statement insert(*this, db, "INSERT INTO users(id, email, name) VALUES(?, ?, ?)");
    for (int id = 1; id <= size.users; ++id) {
      insert.bind(1, std::int64_t{id}).bind(2, "user" + std::to_string(id) + "@example.com").bind(3, "User " + std::to_string(id));
      insert.step();
      insert.reset();
    }
  }
  {
    static constexpr std::array<const char*, 5> kStages{"queued", "scripting", "rendering", "encoding", "done"};
    Statement insert(*this, db,
                     "INSERT INTO jobs(id, client_id, status, current_stage, scenes_completed, scenes_total, updated_at) "
                     "VALUES(?, ?, ?, ?, ?, ?, ?)");
    for (int id = 1; id <= size.jobs; ++id) {
      const int total = pick(3, 12);
      const int done = pick(0, total);
      const auto stage = kStages[static_cast<std::size_t>(done == total ? 4 : pick(0, 3))];
      insert.bind(1, std::int64_t{id}).bind(2, std::int64_t{pick(1, size.users)})
          .bind(3, std::string(done == total ? "completed" : "running")).bind(4, std::string(stage))
          .bind(5, std::int64_t{done}).bind(6, std::int64_t{total}).bind(7, now);
      insert.step();
      insert.reset();
    }
  }
  {
    Statement transcription(*this, db, "INSERT INTO transcriptions(id, user_id, title, status, language) VALUES(?, ?, ?, ?, ?)");
    Statement segment(*this, db, "INSERT INTO segments(transcription_id, idx, start_ms, end_ms, text) VALUES(?, ?, ?, ?, ?)");
    for (int id = 1; id <= size.transcriptions; ++id) {
      transcription.bind(1, std::int64_t{id}).bind(2, std::int64_t{pick(1, size.users)}).bind(3, "Recording " + std::to_string(id))
          .bind(4, std::string(pick(0, 9) < 7 ? "completed" : "processing")).bind(5, std::string(pick(0, 1) == 0 ? "el" : "en"));
      transcription.step();
      transcription.reset();
      std::int64_t at = 0;
      for (int index = 0; index < size.segments_per_transcription; ++index) {
        const int length = pick(1500, 6000);
        segment.bind(1, std::int64_t{id}).bind(2, std::int64_t{index}).bind(3, at).bind(4, at + length).bind(5, words(pick(6, 18)));
        segment.step();
        segment.reset();
        at += length;
      }
    }
  }
  {
    static constexpr std::array<const char*, 6> kPublishers{"Nintendo", "Capcom", "Sega", "Atlus", "Bandai", "Konami"};
    Statement insert(*this, db, "INSERT INTO games(id, title, publisher, release_year, size_mb, added_at) VALUES(?, ?, ?, ?, ?, ?)");
    for (int id = 1; id <= size.games; ++id) {
      insert.bind(1, std::int64_t{id}).bind(2, words(2) + " " + std::to_string(id))
          .bind(3, std::string(kPublishers[static_cast<std::size_t>(pick(0, 5))])).bind(4, std::int64_t{pick(2017, 2026)})
          .bind(5, std::int64_t{pick(100, 32000)}).bind(6, now - pick(0, 86400 * 365));
      insert.step();
      insert.reset();
    }
  }
  {
    static constexpr std::array<const char*, 8> kSpeakers{"Ana", "Ben", "Chloe", "Dimitris", "Eleni", "Farah", "Goran", "Hana"};
    Statement meeting(*this, db, "INSERT INTO meetings(id, user_id, title, started_at, duration_s) VALUES(?, ?, ?, ?, ?)");
    Statement row(*this, db,
                  "INSERT INTO meeting_analytics(meeting_id, speaker, words, talk_ms, sentiment, questions) VALUES(?, ?, ?, ?, ?, ?)");
    for (int id = 1; id <= size.meetings; ++id) {
      meeting.bind(1, std::int64_t{id}).bind(2, std::int64_t{pick(1, size.users)}).bind(3, "Sync " + std::to_string(id))
          .bind(4, now - pick(0, 86400 * 365)).bind(5, std::int64_t{pick(600, 5400)});
      meeting.step();
      meeting.reset();
      for (int i = 0; i < size.analytics_per_meeting; ++i) {
        row.bind(1, std::int64_t{id}).bind(2, std::string(kSpeakers[static_cast<std::size_t>(pick(0, 7))]))
            .bind(3, std::int64_t{pick(5, 400)}).bind(4, std::int64_t{pick(2000, 120000)})
            .bind(5, std::uniform_real_distribution<double>(-1.0, 1.0)(random)).bind(6, std::int64_t{pick(0, 3)});
        row.step();
        row.reset();
      }
    }
  }
  exec(db, "COMMIT");
  queries_.store(0);
}

std::optional<Job> Database::job(std::int64_t id) {
  Statement query(*this, connection(),
                  "SELECT id, client_id, status, current_stage, scenes_completed, scenes_total, updated_at FROM jobs WHERE id = ?");
  query.bind(1, id);
  if (!query.step()) return std::nullopt;
  return Job{query.integer(0), query.integer(1), query.text(2), query.text(3),
             static_cast<int>(query.integer(4)), static_cast<int>(query.integer(5)), query.integer(6)};
}

bool Database::update_job_progress(std::int64_t id, const std::string& stage, int completed, int total) {
  Statement update(*this, connection(),
                   "UPDATE jobs SET current_stage = ?, scenes_completed = ?, scenes_total = ?, status = ?, updated_at = ? "
                   "WHERE id = ?");
  update.bind(1, stage).bind(2, std::int64_t{completed}).bind(3, std::int64_t{total})
      .bind(4, std::string(completed >= total ? "completed" : "running")).bind(5, now_seconds()).bind(6, id);
  update.step();
  return update.changes() > 0;
}

std::optional<Transcription> Database::transcription(std::int64_t id, std::int64_t user_id) {
  auto* db = connection();
  Statement query(*this, db, "SELECT id, user_id, title, status, language FROM transcriptions WHERE id = ? AND user_id = ?");
  query.bind(1, id).bind(2, user_id);
  if (!query.step()) return std::nullopt;
  Transcription out{query.integer(0), query.integer(1), query.text(2), query.text(3), query.text(4), {}};
  Statement segments(*this, db, "SELECT idx, start_ms, end_ms, text FROM segments WHERE transcription_id = ? ORDER BY idx");
  segments.bind(1, id);
  while (segments.step()) {
    out.segments.push_back(Segment{static_cast<int>(segments.integer(0)), segments.integer(1), segments.integer(2), segments.text(3)});
  }
  return out;
}

bool Database::update_transcription(std::int64_t id, std::int64_t user_id, const std::string& title, const std::string& status) {
  Statement update(*this, connection(), "UPDATE transcriptions SET title = ?, status = ? WHERE id = ? AND user_id = ?");
  update.bind(1, title).bind(2, status).bind(3, id).bind(4, user_id);
  update.step();
  return update.changes() > 0;
}

bool Database::delete_transcription(std::int64_t id, std::int64_t user_id) {
  auto* db = connection();
  Statement remove(*this, db, "DELETE FROM transcriptions WHERE id = ? AND user_id = ?");
  remove.bind(1, id).bind(2, user_id);
  remove.step();
  if (remove.changes() == 0) return false;
  Statement segments(*this, db, "DELETE FROM segments WHERE transcription_id = ?");
  segments.bind(1, id);
  segments.step();
  return true;
}

LibraryPage Database::library_page(int page, int per_page, const std::string& sort_by, bool descending) {
  auto* db = connection();
  // sort_by is one of four column names, checked by the caller: never user text in SQL.
  const std::string sql = "SELECT id, title, publisher, release_year, size_mb, added_at FROM games ORDER BY " + sort_by +
                          (descending ? " DESC" : " ASC") + ", id LIMIT ? OFFSET ?";
  Statement query(*this, db, sql.c_str());
  query.bind(1, std::int64_t{per_page}).bind(2, std::int64_t{(page - 1) * per_page});
  LibraryPage out;
  while (query.step()) {
    out.games.push_back(Game{query.integer(0), query.text(1), query.text(2), static_cast<int>(query.integer(3)),
                             static_cast<int>(query.integer(4)), query.integer(5)});
  }
  Statement count(*this, db, "SELECT COUNT(*) FROM games");
  count.step();
  out.total = count.integer(0);
  return out;
}

std::int64_t Database::add_game(const std::string& title, const std::string& publisher, int year, int size_mb) {
  auto* db = connection();
  Statement insert(*this, db, "INSERT INTO games(title, publisher, release_year, size_mb, added_at) VALUES(?, ?, ?, ?, ?)");
  insert.bind(1, title).bind(2, publisher).bind(3, std::int64_t{year}).bind(4, std::int64_t{size_mb}).bind(5, now_seconds());
  insert.step();
  return sqlite3_last_insert_rowid(db);
}

Dashboard Database::dashboard() {
  auto* db = connection();
  Dashboard out;
  {
    Statement totals(*this, db, "SELECT COUNT(*), COALESCE(SUM(duration_s), 0) / 60 FROM meetings");
    totals.step();
    out.meetings = totals.integer(0);
    out.total_minutes = totals.integer(1);
  }
  {
    Statement overall(*this, db,
                      "SELECT AVG(sentiment), CAST(SUM(questions) AS REAL) / MAX(COUNT(DISTINCT meeting_id), 1) "
                      "FROM meeting_analytics");
    overall.step();
    out.average_sentiment = overall.real(0);
    out.questions_per_meeting = overall.real(1);
  }
  {
    Statement speakers(*this, db,
                       "SELECT speaker, SUM(words), SUM(talk_ms), AVG(sentiment) FROM meeting_analytics "
                       "GROUP BY speaker ORDER BY SUM(talk_ms) DESC LIMIT 5");
    while (speakers.step()) {
      out.top_speakers.push_back(SpeakerStats{speakers.text(0), speakers.integer(1), speakers.integer(2), speakers.real(3)});
    }
  }
  {
    Statement months(*this, db,
                     "SELECT strftime('%Y-%m', started_at, 'unixepoch') AS month, COUNT(*) FROM meetings "
                     "GROUP BY month ORDER BY month DESC LIMIT 12");
    while (months.step()) out.meetings_per_month.emplace_back(months.text(0), months.integer(1));
  }
  return out;
}

std::int64_t Database::add_meeting(std::int64_t user_id, const std::string& title, int duration_s) {
  auto* db = connection();
  Statement insert(*this, db, "INSERT INTO meetings(user_id, title, started_at, duration_s) VALUES(?, ?, ?, ?)");
  insert.bind(1, user_id).bind(2, title).bind(3, now_seconds()).bind(4, std::int64_t{duration_s});
  insert.step();
  return sqlite3_last_insert_rowid(db);
}

}  // namespace strata::example
