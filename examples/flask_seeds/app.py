"""The seeds' own stack, for comparison: Flask + Flask-Caching on Redis over the same SQLite data
and with the same endpoints as examples/api (jobs, library, dashboard), written the way the seeds
wrote theirs (cache.get / cache.set / cache.delete, a SCAN-and-delete for patterns).

Served by gunicorn from Debian:
    STRATA_SEEDS_DB=seeds.db CACHE_TYPE=RedisCache CACHE_REDIS_URL=redis://127.0.0.1:6379/0 \\
        gunicorn --preload -w 4 -b 127.0.0.1:5001 app:app
CACHE_TYPE=NullCache turns caching off (every read goes to SQLite).
"""

import json
import multiprocessing
import os
import sqlite3
import time

import redis
from flask import Flask, jsonify, request
from flask_caching import Cache

app = Flask(__name__)
cache_type = os.environ.get("CACHE_TYPE", "RedisCache")
app.config.update(
    CACHE_TYPE=cache_type,
    CACHE_REDIS_URL=os.environ.get("CACHE_REDIS_URL", "redis://127.0.0.1:6379/0"),
    CACHE_DEFAULT_TIMEOUT=300,
    CACHE_KEY_PREFIX="seeds:",
)
cache = Cache(app)
caching = cache_type != "NullCache"
raw_redis = redis.Redis.from_url(app.config["CACHE_REDIS_URL"]) if caching else None

# Shared across gunicorn's forked workers (created before the fork with --preload).
queries = multiprocessing.Value("Q", 0, lock=True)
DATABASE = os.environ.get("STRATA_SEEDS_DB", "seeds.db")
_connection = {}


def db():
    pid = os.getpid()
    if pid not in _connection:
        connection = sqlite3.connect(DATABASE, check_same_thread=False)
        connection.execute("PRAGMA busy_timeout=5000")
        _connection[pid] = connection
    return _connection[pid]


def query(sql, args=()):
    with queries.get_lock():
        queries.value += 1
    return db().execute(sql, args).fetchall()


def job_json(job_id):
    rows = query("SELECT id, client_id, status, current_stage, scenes_completed, scenes_total, updated_at "
                 "FROM jobs WHERE id = ?", (job_id,))
    if not rows:
        return None
    r = rows[0]
    return {"id": r[0], "client_id": r[1], "status": r[2],
            "progress": {"current_stage": r[3], "scenes_completed": r[4], "scenes_total": r[5],
                         "percent": r[4] * 100 // r[5] if r[5] else 0},
            "updated_at": r[6]}


def answer(body, state, status=200):
    response = app.response_class(json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json")
    response.headers["X-Cache"] = state
    return response


@app.get("/api/v2/jobs/<int:job_id>")
def get_job(job_id):
    key = f"job:{job_id}"
    cached = cache.get(key)
    if cached is not None:
        return answer(cached, "HIT")
    job = job_json(job_id)
    if job is None:
        return answer({"error": "not_found"}, "MISS", 404)
    cache.set(key, job, timeout=30)
    return answer(job, "MISS")


@app.post("/api/v2/jobs/<int:job_id>/progress")
def update_progress(job_id):
    body = request.get_json(force=True, silent=True) or {}
    try:
        stage, done, total = str(body["current_stage"]), int(body["scenes_completed"]), int(body["scenes_total"])
    except (KeyError, ValueError, TypeError):
        return answer({"error": "bad_request"}, "BYPASS", 400)
    query("UPDATE jobs SET current_stage = ?, scenes_completed = ?, scenes_total = ?, status = ?, updated_at = ? "
          "WHERE id = ?", (stage, done, total, "completed" if done >= total else "running", int(time.time()), job_id))
    db().commit()
    cache.delete(f"job:{job_id}")
    job = job_json(job_id)  # pre-warm, as seed 004 does
    if job is not None:
        cache.set(f"job:{job_id}", job, timeout=30)
    return answer({"success": True, "job": job}, "BYPASS")


SORTS = {"title", "release_year", "size_mb", "added_at"}


@app.get("/api/library/paged")
def library_paged():
    page = request.args.get("page", 1, type=int)
    per_page = request.args.get("per_page", 20, type=int)
    sort_by = request.args.get("sort_by", "title")
    order = request.args.get("order", "asc")
    if page < 1 or not 1 <= per_page <= 100 or sort_by not in SORTS or order not in ("asc", "desc"):
        return answer({"error": "bad_request"}, "BYPASS", 400)
    key = f"library:paged:{page}:{per_page}:{sort_by}:{order}"
    cached = cache.get(key)
    if cached is not None:
        return answer(cached, "HIT")
    rows = query(f"SELECT id, title, publisher, release_year, size_mb FROM games ORDER BY {sort_by} "
                 f"{'DESC' if order == 'desc' else 'ASC'}, id LIMIT ? OFFSET ?", (per_page, (page - 1) * per_page))
    total = query("SELECT COUNT(*) FROM games")[0][0]
    body = {"games": [{"id": r[0], "title": r[1], "publisher": r[2], "release_year": r[3], "size_mb": r[4]} for r in rows],
            "page": page, "per_page": per_page, "total": total, "pages": (total + per_page - 1) // per_page}
    cache.set(key, body, timeout=300)
    return answer(body, "MISS")


@app.get("/api/analytics/dashboard")
def dashboard():
    cached = cache.get("analytics:dashboard")
    if cached is not None:
        return answer(cached, "HIT")
    meetings, minutes = query("SELECT COUNT(*), COALESCE(SUM(duration_s), 0) / 60 FROM meetings")[0]
    sentiment, questions = query("SELECT AVG(sentiment), CAST(SUM(questions) AS REAL) / MAX(COUNT(DISTINCT meeting_id), 1) "
                                 "FROM meeting_analytics")[0]
    speakers = query("SELECT speaker, SUM(words), SUM(talk_ms), AVG(sentiment) FROM meeting_analytics "
                     "GROUP BY speaker ORDER BY SUM(talk_ms) DESC LIMIT 5")
    months = query("SELECT strftime('%Y-%m', started_at, 'unixepoch') AS month, COUNT(*) FROM meetings "
                   "GROUP BY month ORDER BY month DESC LIMIT 12")
    body = {"meetings": meetings, "total_minutes": minutes, "average_sentiment": round(sentiment, 3),
            "questions_per_meeting": round(questions, 2),
            "top_speakers": [{"speaker": s[0], "words": s[1], "talk_minutes": s[2] // 60000, "sentiment": round(s[3], 3)}
                             for s in speakers],
            "meetings_per_month": [{"month": m[0], "meetings": m[1]} for m in months]}
    cache.set("analytics:dashboard", body, timeout=600)
    return answer(body, "MISS")


@app.get("/api/v2/db/stats")
def db_stats():
    return answer({"queries": queries.value}, "BYPASS")


@app.get("/health")
def health():
    return answer({"status": "ok"}, "BYPASS")
