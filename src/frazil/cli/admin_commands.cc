#include "frazil/cli/admin_commands.h"

#include <httplib.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "frazil/broker/topic_name.h"

namespace frazil::cli {
namespace {

struct Reply {
  int status = 0;
  nlohmann::json body;
};

// One admin request; nullopt (after printing why) when the broker cannot be
// reached or answers with something that is not JSON.
std::optional<Reply> Call(const TopicsArgs& args, const std::string& method, const std::string& path) {
  std::string base = args.http.rfind("http://", 0) == 0 ? args.http : "http://" + args.http;
  httplib::Client client(base);
  client.set_connection_timeout(5);
  client.set_read_timeout(60);
  auto res = method == "DELETE" ? client.Delete(path) : client.Get(path);
  if (!res) {
    std::cerr << "frazil topics: cannot reach the broker's HTTP endpoint " << base << ": "
              << httplib::to_string(res.error()) << "\n";
    return std::nullopt;
  }
  auto body = nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    std::cerr << "frazil topics: " << base << path << " answered " << res->status << " with non-JSON\n";
    return std::nullopt;
  }
  if (res->status != 200) {
    std::cerr << "frazil topics: " << body.value("error", res->body) << "\n";
    return std::nullopt;
  }
  return Reply{res->status, std::move(body)};
}

// /ns/t -> /admin/topics/ns/t, or nullopt (bad usage) for an invalid name.
std::optional<std::string> TopicPath(const std::string& topic) {
  auto parsed = broker::ParseTopicName(topic);
  if (!parsed.ok()) {
    std::cerr << "frazil topics: " << parsed.status().message() << "\n";
    return std::nullopt;
  }
  return "/admin/topics/" + parsed->ns + "/" + parsed->name;
}

std::string Num(const nlohmann::json& v) { return v.is_null() ? "-" : v.dump(); }

void PrintTopic(const nlohmann::json& t) {
  const auto& w = t["wal"];
  std::cout << t["name"].get<std::string>() << "\n"
            << "  dispatch:      " << (t["reliable"].get<bool>() ? "reliable" : "non-reliable") << "\n"
            << "  wal:           offsets [" << Num(w["low_water_offset"]) << ", " << Num(w["next_offset"])
            << "), " << Num(w["segments"]) << " segment(s), " << Num(w["bytes"]) << " bytes\n";
  const auto& tb = t["table"];
  if (tb.is_null()) {
    std::cout << "  table:         none (storage disabled)\n";
  } else {
    std::cout << "  table:         " << tb["identifier"].get<std::string>() << ", snapshot "
              << Num(tb["snapshot_id"]) << ", committed offset " << Num(tb["committed_offset"]) << "\n";
    if (tb.contains("catalog") && tb["catalog"].is_object()) {
      const auto& c = tb["catalog"];
      std::cout << "  catalog:       " << c.value("name", "") << " (" << c.value("type", "") << ") at "
                << c.value("uri", "") << "\n";
    }
    if (!tb["error"].is_null()) std::cout << "  storage error: " << tb["error"].get<std::string>() << "\n";
  }
  if (t["subscriptions"].empty()) std::cout << "  subscriptions: none\n";
  for (const auto& s : t["subscriptions"])
    std::cout << "  subscription " << s["name"].get<std::string>() << " (" << s["type"].get<std::string>()
              << "): cursor " << Num(s["cursor"]) << ", lag " << Num(s["lag"]) << ", " << Num(s["consumers"])
              << " consumer(s)\n";
}

}  // namespace

int RunTopicsList(const TopicsArgs& args) {
  auto reply = Call(args, "GET", "/admin/topics");
  if (!reply) return 1;
  if (args.json) {
    std::cout << reply->body.dump(2) << "\n";
    return 0;
  }
  for (const auto& t : reply->body["topics"]) {
    const auto& tb = t["table"];
    std::cout << t["name"].get<std::string>() << "  wal [" << Num(t["wal"]["low_water_offset"]) << ", "
              << Num(t["wal"]["next_offset"]) << ")  committed "
              << (tb.is_null() ? std::string("-") : Num(tb["committed_offset"])) << "  subscriptions "
              << t["subscriptions"].size() << "\n";
  }
  return 0;
}

int RunTopicsDescribe(const TopicsArgs& args) {
  auto path = TopicPath(args.topic);
  if (!path) return 2;
  auto reply = Call(args, "GET", *path);
  if (!reply) return 1;
  if (args.json) {
    std::cout << reply->body.dump(2) << "\n";
  } else {
    PrintTopic(reply->body);
  }
  return 0;
}

int RunTopicsDelete(const TopicsArgs& args) {
  auto path = TopicPath(args.topic);
  if (!path) return 2;
  auto reply = Call(args, "DELETE", *path);
  if (!reply) return 1;
  if (args.json) {
    std::cout << reply->body.dump(2) << "\n";
  } else {
    std::cout << "deleted " << args.topic << " (its table, data files, WAL and subscriptions)\n";
  }
  return 0;
}

}  // namespace frazil::cli
