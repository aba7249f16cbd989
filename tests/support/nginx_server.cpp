#include "support/nginx_server.hpp"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace strata::testing {

NginxServer::NginxServer(const std::map<std::string, std::string>& files, const std::string& server_block,
                         const std::string& certificate_file, const std::string& key_file)
    : tls_(!certificate_file.empty()) {
  char pattern[] = "/tmp/strata-nginx-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
  directory_ = pattern;
  for (const auto& [path, content] : files) {
    const std::filesystem::path file = root() + "/" + path;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
  }
  std::filesystem::create_directories(root());
  port_ = free_loopback_port();
  std::ofstream config(directory_ + "/nginx.conf");
  config << "worker_processes 1;\nerror_log " << directory_ << "/error.log;\npid " << directory_ << "/nginx.pid;\n"
         << "events { worker_connections 256; }\n"
         << "http {\n"
         << "  log_format strata '$request_method\\t$request_uri\\t$status\\t$http_if_none_match\\t$http_accept_encoding';\n"
         << "  access_log " << directory_ << "/access.log strata;\n"
         << "  client_body_temp_path " << directory_ << "/body;\n  proxy_temp_path " << directory_ << "/proxy;\n"
         << "  fastcgi_temp_path " << directory_ << "/fastcgi;\n  uwsgi_temp_path " << directory_ << "/uwsgi;\n"
         << "  scgi_temp_path " << directory_ << "/scgi;\n"
         << "  types { application/json json; text/html html; text/plain txt; image/png png; }\n"
         << "  server {\n    listen 127.0.0.1:" << port_ << (tls_ ? " ssl" : "") << ";\n    root " << root() << ";\n";
  if (tls_) config << "    ssl_certificate " << certificate_file << ";\n    ssl_certificate_key " << key_file << ";\n";
  config << "    " << server_block << "\n  }\n}\n";
  config.close();
  process_.spawn({"nginx", "-p", directory_, "-c", directory_ + "/nginx.conf", "-g", "daemon off; master_process off;"});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!accepts_connections(port_)) {
    if (process_.exited() || std::chrono::steady_clock::now() > deadline) {
      std::ifstream log(directory_ + "/error.log");
      std::stringstream text;
      text << log.rdbuf();
      throw std::runtime_error("nginx did not start on port " + std::to_string(port_) + ": " + text.str());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling readiness, bounded
  }
}

NginxServer::~NginxServer() {
  process_.stop(SIGQUIT);
  std::error_code ignored;
  std::filesystem::remove_all(directory_, ignored);
}

std::string NginxServer::url() const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}

std::vector<NginxRequest> NginxServer::requests(std::size_t at_least) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    auto logged = read_log();
    if (logged.size() >= at_least || std::chrono::steady_clock::now() > deadline) return logged;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // polling the log, bounded
  }
}

std::vector<NginxRequest> NginxServer::read_log() const {
  std::vector<NginxRequest> out;
  std::ifstream log(directory_ + "/access.log");
  std::string line;
  while (std::getline(log, line)) {
    std::vector<std::string> fields;
    std::stringstream split(line);
    std::string field;
    while (std::getline(split, field, '\t')) fields.push_back(field);
    if (fields.size() < 5) continue;
    out.push_back({fields[0], fields[1], static_cast<unsigned>(std::atoi(fields[2].c_str())), fields[3], fields[4]});
  }
  return out;
}

}  // namespace strata::testing
