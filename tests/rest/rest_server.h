// Starts an Iceberg REST catalog server as a child process on a free
// loopback port, waits until it answers GET /v1/config, and stops it when
// destroyed. Two servers: Apache Iceberg's own REST catalog server (the
// launcher scripts/setup-rest-catalog.sh writes) with its warehouse in a
// local directory, and Project Nessie (scripts/setup-nessie.sh) with its
// warehouse in a bucket of the S3 test server (scripts/setup-s3server.sh),
// since Nessie keeps table metadata on object stores only.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../s3/s3_server.h"
#include "frazil/net/http_client.h"
#include "frazil/objstore/object_store_file_io.h"
#include "frazil/objstore/s3_object_store.h"

extern char** environ;

namespace frazil::testing {

inline std::string LauncherFromEnv(const char* var, const char* fallback) {
  const char* env = std::getenv(var);
  return env && *env ? env : fallback;
}

inline std::string RestCatalogLauncher() {
  return LauncherFromEnv("FRAZIL_REST_CATALOG_BIN", FRAZIL_DEFAULT_REST_CATALOG_BIN);
}
inline std::string NessieLauncher() {
  return LauncherFromEnv("FRAZIL_NESSIE_BIN", FRAZIL_DEFAULT_NESSIE_BIN);
}

// A port nothing listens on right now (the kernel's pick for port 0).
inline int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

class RestCatalogServerProcess {
 public:
  // Runs `launcher PORT args...` with stderr to `log`; the catalog answers
  // under http://127.0.0.1:PORT + `path` (Nessie's is "/iceberg").
  RestCatalogServerProcess(const std::string& launcher, std::vector<std::string> args, const std::string& log,
                           const std::string& path, const std::string& setup_hint) {
    if (::access(launcher.c_str(), X_OK) != 0) {
      error_ = "no REST catalog server at " + launcher + ": " + setup_hint;
      return;
    }
    port_ = FreeLoopbackPort();
    args.insert(args.begin(), {launcher, std::to_string(port_)});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    // The servers log every request: keep it in a file.
    posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawn(&pid_, launcher.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      pid_ = -1;
      error_ = "posix_spawn " + launcher + " failed";
      return;
    }
    uri_ = "http://127.0.0.1:" + std::to_string(port_) + path;
    net::HttpClient http(net::HttpClientOptions{.connect_timeout_ms = 1000, .request_timeout_ms = 5000});
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < deadline) {
      net::HttpRequest req;
      req.method = "GET";
      req.url = uri_ + "/v1/config";
      auto r = http.Send(req);
      if (r.ok() && r->status == 200) return;
      int st;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        error_ = "the REST catalog server exited at start (see " + log + ")";
        uri_.clear();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    error_ = "the REST catalog server did not answer /v1/config within 120 s (see " + log + ")";
    uri_.clear();
  }
  ~RestCatalogServerProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int st;
      ::waitpid(pid_, &st, 0);
    }
  }
  RestCatalogServerProcess(const RestCatalogServerProcess&) = delete;
  RestCatalogServerProcess& operator=(const RestCatalogServerProcess&) = delete;

  // Empty when it did not start (error() says why).
  const std::string& uri() const { return uri_; }
  const std::string& error() const { return error_; }
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_ = -1;
  std::string uri_;
  std::string error_;
};

// One REST catalog server under test, with what a client needs besides the
// URI: a FileIO that reaches the server's warehouse.
class RestServerUnderTest {
 public:
  virtual ~RestServerUnderTest() = default;
  virtual const RestCatalogServerProcess& process() const = 0;
  virtual std::unique_ptr<iceberg::FileIO> NewFileIO() const = 0;
  // The catalog's URI as seen through a proxy on `port` (same path).
  std::string UriVia(int port) const {
    const std::string& uri = process().uri();
    auto path = uri.find('/', uri.find("//") + 2);
    return "http://127.0.0.1:" + std::to_string(port) + (path == std::string::npos ? "" : uri.substr(path));
  }
  // Empty when ready, else why not.
  virtual std::string error() const { return process().error(); }
};

// Iceberg's RESTCatalogServer over a JDBC catalog in SQLite, tables under
// file://`warehouse_dir`.
class IcebergFixtureServer final : public RestServerUnderTest {
 public:
  explicit IcebergFixtureServer(const std::string& warehouse_dir)
      : process_(RestCatalogLauncher(), {warehouse_dir}, warehouse_dir + ".log", "",
                 "run scripts/setup-rest-catalog.sh (or set FRAZIL_REST_CATALOG_BIN)") {}
  const RestCatalogServerProcess& process() const override { return process_; }
  std::unique_ptr<iceberg::FileIO> NewFileIO() const override { return objstore::NewLocalFileIO(); }

 private:
  RestCatalogServerProcess process_;
};

// Nessie with an in-memory version store and its warehouse at
// s3://frazil-nessie/wh on an S3 test server of its own.
class NessieServer final : public RestServerUnderTest {
 public:
  static constexpr const char* kKey = "FRAZILNESSIEKEY";
  static constexpr const char* kSecret = "frazil/nessie+secret";
  static constexpr const char* kBucket = "frazil-nessie";

  explicit NessieServer(const std::string& log_dir)
      : s3_(std::vector<std::string>{"--access-key", kKey, "--secret-key", kSecret}) {
    if (!s3_.error().empty()) {
      error_ = s3_.error();
      return;
    }
    auto store = objstore::S3ObjectStore::Open(S3(), kBucket);
    if (!store.ok()) {
      error_ = store.status().ToString();
      return;
    }
    auto created = (*store)->Execute(objstore::S3ObjectStore::Call{"PUT", "", {}, {}, {}});  // CreateBucket
    if (!created.ok() || created->status != 200) {
      error_ = "CreateBucket " + std::string(kBucket) + " failed: " +
               (created.ok() ? "HTTP " + std::to_string(created->status) : created.status().ToString());
      return;
    }
    // The launcher takes the key pair from the environment.
    ::setenv("AWS_ACCESS_KEY_ID", kKey, 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", kSecret, 1);
    process_ = std::make_unique<RestCatalogServerProcess>(
        NessieLauncher(), std::vector<std::string>{std::string("s3://") + kBucket + "/wh", s3_.endpoint()},
        log_dir + "/nessie.log", "/iceberg", "run scripts/setup-nessie.sh (or set FRAZIL_NESSIE_BIN)");
  }
  const RestCatalogServerProcess& process() const override { return *process_; }
  std::string error() const override {
    if (!error_.empty()) return error_;
    return process_ ? process_->error() : "not started";
  }
  std::unique_ptr<iceberg::FileIO> NewFileIO() const override {
    return std::make_unique<objstore::ObjectStoreFileIO>(objstore::NewLocalObjectStore(), S3());
  }
  objstore::S3Config S3() const {
    objstore::S3Config c;
    c.endpoint = s3_.endpoint();
    c.region = "us-east-1";
    c.path_style = true;
    c.access_key_id = kKey;
    c.secret_access_key = kSecret;
    c.connect_timeout_ms = 2'000;
    c.request_timeout_ms = 10'000;
    return c;
  }

 private:
  S3ServerProcess s3_;
  std::string error_;
  std::unique_ptr<RestCatalogServerProcess> process_;
};

}  // namespace frazil::testing
