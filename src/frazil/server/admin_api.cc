#include "frazil/server/admin_api.h"

namespace frazil::server {
namespace {

HttpResponse Json(int status, const nlohmann::json& body) {
  return HttpResponse{status, "application/json", body.dump() + "\n"};
}

HttpResponse Error(const Status& st) {
  int code = st.code() == StatusCode::kNotFound ? 404 : st.code() == StatusCode::kInvalidArgument ? 400 : 500;
  return Json(code, {{"error", st.ToString()}});
}

// Topic names in paths are /admin/topics/<ns>/<topic>.
const char* kTopicPath = R"(/admin/topics/([^/]+)/([^/]+))";

}  // namespace

nlohmann::json DescribeTopicJson(const broker::TopicInfo& info, const nlohmann::json& catalog) {
  nlohmann::json j;
  j["name"] = info.name;
  j["reliable"] = info.reliable;
  j["wal"] = {{"low_water_offset", info.wal.low_water_offset},
              {"next_offset", info.wal.next_offset},
              {"segments", info.wal.segment_count},
              {"bytes", info.wal.total_bytes}};
  if (info.has_table) {
    j["table"] = {
        {"identifier", info.table.ToString()},
        {"snapshot_id",
         info.storage.snapshot_id >= 0 ? nlohmann::json(info.storage.snapshot_id) : nlohmann::json(nullptr)},
        {"committed_offset", info.storage.committed_offset},
        {"commits", info.storage.commits},
        {"last_commit_ms", info.storage.last_commit_ms > 0 ? nlohmann::json(info.storage.last_commit_ms)
                                                           : nlohmann::json(nullptr)},
        {"error", info.storage.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(info.storage.error)}};
    if (!catalog.is_null()) j["table"]["catalog"] = catalog;
  } else {
    j["table"] = nullptr;
  }
  j["subscriptions"] = nlohmann::json::array();
  for (const auto& s : info.subscriptions) {
    uint64_t lag = info.wal.next_offset > s.cursor ? info.wal.next_offset - s.cursor : 0;
    j["subscriptions"].push_back({{"name", s.name},
                                  {"type", broker::SubscriptionTypeName(s.type)},
                                  {"cursor", s.cursor},
                                  {"lag", lag},
                                  {"consumers", s.consumers}});
  }
  return j;
}

void RegisterAdminApi(HttpServer* http, broker::Broker* broker, nlohmann::json catalog) {
  http->Get(std::string("/admin/topics"), [broker, catalog](const std::vector<std::string>&) {
    nlohmann::json topics = nlohmann::json::array();
    for (const auto& info : broker->Topics()) topics.push_back(DescribeTopicJson(info, catalog));
    return Json(200, {{"topics", topics}});
  });
  http->Get(std::string(kTopicPath), [broker, catalog](const std::vector<std::string>& g) {
    auto info = broker->DescribeTopic("/" + g.at(0) + "/" + g.at(1));
    if (!info.ok()) return Error(info.status());
    return Json(200, DescribeTopicJson(*info, catalog));
  });
  http->Delete(std::string(kTopicPath), [broker](const std::vector<std::string>& g) {
    std::string name = "/" + g.at(0) + "/" + g.at(1);
    Status st = broker->DeleteTopic(name);
    if (!st.ok()) return Error(st);
    return Json(200, {{"deleted", name}});
  });
}

}  // namespace frazil::server
