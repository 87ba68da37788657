#include "frazil/cli/admin_commands.h"

#include <httplib.h>

#include <cctype>
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
  auto res = method == "DELETE" ? client.Delete(path)
             : method == "PUT"  ? client.Put(path, std::string(), "application/json")
                                : client.Get(path);
  if (!res) {
    std::cerr << "frazil: cannot reach the broker's HTTP endpoint " << base << ": "
              << httplib::to_string(res.error()) << "\n";
    return std::nullopt;
  }
  auto body = nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    std::cerr << "frazil: " << base << path << " answered " << res->status << " with non-JSON\n";
    return std::nullopt;
  }
  if (res->status != 200) {
    std::cerr << "frazil: " << body.value("error", res->body) << "\n";
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

// A namespace name for a path, or nullopt (bad usage) for an invalid one.
std::optional<std::string> NamespacePath(const std::string& ns) {
  if (Status st = broker::CheckNamespaceName(ns); !st.ok()) {
    std::cerr << "frazil namespaces: " << st.message() << "\n";
    return std::nullopt;
  }
  return "/admin/namespaces/" + ns;
}

// Percent-encodes a path segment (subscription names may hold any UTF-8).
std::string EncodeSegment(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// Prints the reply as JSON (--json) or the given line.
int Done(const TopicsArgs& args, const Reply& reply, const std::string& line) {
  if (args.json)
    std::cout << reply.body.dump(2) << "\n";
  else
    std::cout << line << "\n";
  return 0;
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

int RunTopicsCreate(const TopicsArgs& args) {
  auto path = TopicPath(args.topic);
  if (!path) return 2;
  std::string query = args.reliable ? "dispatch=reliable" : "dispatch=non_reliable";
  if (args.partitions >= 0) query += "&partitions=" + std::to_string(args.partitions);
  auto reply = Call(args, "PUT", *path + "?" + query);
  if (!reply) return 1;
  std::string what = args.partitions >= 0 ? " with " + std::to_string(args.partitions) + " partition(s)" : "";
  return Done(
      args, *reply,
      "created " + args.topic + what + " (" + (args.reliable ? "reliable" : "non-reliable") + " dispatch)");
}

int RunTopicsSubscriptions(const TopicsArgs& args) {
  auto path = TopicPath(args.topic);
  if (!path) return 2;
  auto reply = Call(args, "GET", *path + "/subscriptions");
  if (!reply) return 1;
  if (args.json) {
    std::cout << reply->body.dump(2) << "\n";
    return 0;
  }
  for (const auto& s : reply->body["subscriptions"]) std::cout << s.get<std::string>() << "\n";
  return 0;
}

int RunTopicsUnsubscribe(const TopicsArgs& args) {
  auto path = TopicPath(args.topic);
  if (!path) return 2;
  auto reply = Call(args, "DELETE", *path + "/subscriptions/" + EncodeSegment(args.subscription));
  if (!reply) return 1;
  return Done(args, *reply, "deleted subscription " + args.subscription + " of " + args.topic);
}

int RunTopicsRetention(const TopicsArgs& args) {
  auto path = TopicPath(args.topic);
  if (!path) return 2;
  const bool set = !args.max_age_ms.empty() || !args.max_bytes.empty();
  if (set && args.retention_default) {
    std::cerr << "error: --default cannot be given with --max-age-ms or --max-bytes\n";
    return 2;
  }
  std::string query;
  if (!args.max_age_ms.empty()) query += "max_age_ms=" + EncodeSegment(args.max_age_ms);
  if (!args.max_bytes.empty())
    query += (query.empty() ? "" : "&") + ("max_bytes=" + EncodeSegment(args.max_bytes));
  const char* method = set ? "PUT" : args.retention_default ? "DELETE" : "GET";
  auto reply = Call(args, method, *path + "/retention" + (query.empty() ? "" : "?" + query));
  if (!reply) return 1;
  if (args.json) return Done(args, *reply, "");
  const auto& b = reply->body;
  auto limit = [](const nlohmann::json& v, const char* unit) {
    return v.get<int64_t>() == 0 ? std::string("no limit") : std::to_string(v.get<int64_t>()) + unit;
  };
  std::cout << args.topic << ": max age " << limit(b["max_age_ms"], " ms") << ", max size "
            << limit(b["max_bytes"], " bytes") << " ("
            << (b["source"] == "topic" ? "the topic's own" : "the broker's default")
            << "), first offset kept " << b["first_retained_offset"].get<uint64_t>() << "\n";
  return 0;
}

namespace {

// GET or PUT `.../subscriptions/<sub>/<what>[?query]`; prints the JSON reply.
int SubscriptionSetting(const TopicsArgs& args, const std::string& what, const std::string& query) {
  auto path = TopicPath(args.topic);
  if (!path) return 2;
  std::string url = *path + "/subscriptions/" + EncodeSegment(args.subscription) + "/" + what;
  auto reply = Call(args, query.empty() ? "GET" : "PUT", query.empty() ? url : url + "?" + query);
  if (!reply) return 1;
  return Done(args, *reply, reply->body.dump(2));
}

}  // namespace

int RunTopicsFailurePolicy(const TopicsArgs& args) {
  std::string query;
  for (const auto& kv : args.set) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "--set wants key=value, not '" << kv << "'\n";
      return 2;
    }
    // Keys are the API's query parameters; values are passed as they are
    // (the broker checks both), the dead-letter topic's '/' included.
    query += (query.empty() ? "" : "&") + kv.substr(0, eq) + "=" + kv.substr(eq + 1);
  }
  return SubscriptionSetting(args, "failure_policy", query);
}

int RunTopicsDispatchConfig(const TopicsArgs& args) {
  return SubscriptionSetting(
      args, "dispatch_config",
      args.max_unacked >= 0 ? "max_unacked_messages=" + std::to_string(args.max_unacked) : "");
}

int RunNamespacesList(const TopicsArgs& args) {
  auto reply = Call(args, "GET", "/admin/namespaces");
  if (!reply) return 1;
  if (args.json) {
    std::cout << reply->body.dump(2) << "\n";
    return 0;
  }
  for (const auto& ns : reply->body["namespaces"]) std::cout << ns.get<std::string>() << "\n";
  return 0;
}

int RunNamespacesCreate(const TopicsArgs& args) {
  auto path = NamespacePath(args.ns);
  if (!path) return 2;
  auto reply = Call(args, "PUT", *path);
  if (!reply) return 1;
  return Done(args, *reply, "created namespace " + args.ns);
}

int RunNamespacesDelete(const TopicsArgs& args) {
  auto path = NamespacePath(args.ns);
  if (!path) return 2;
  auto reply = Call(args, "DELETE", *path);
  if (!reply) return 1;
  return Done(args, *reply, "deleted namespace " + args.ns);
}

int RunNamespacesTopics(const TopicsArgs& args) {
  auto path = NamespacePath(args.ns);
  if (!path) return 2;
  auto reply = Call(args, "GET", *path);
  if (!reply) return 1;
  if (args.json) {
    std::cout << reply->body.dump(2) << "\n";
    return 0;
  }
  for (const auto& t : reply->body["topics"]) std::cout << t.get<std::string>() << "\n";
  return 0;
}

}  // namespace frazil::cli
