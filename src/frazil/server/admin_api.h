// The operator's admin endpoints on the HTTP port (docs/formats/admin-api.md):
//   GET    /admin/topics               every topic, described
//   GET    /admin/topics/<ns>/<topic>  one topic
//   DELETE /admin/topics/<ns>/<topic>  delete a topic with its table and WAL
#pragma once

#include <nlohmann/json.hpp>

#include "frazil/broker/broker.h"
#include "frazil/server/http_server.h"

namespace frazil::server {

// `catalog`: where the topic's table is recorded ({"type", "name", "uri"}),
// shown with the table; null leaves it out.
nlohmann::json DescribeTopicJson(const broker::TopicInfo& info, const nlohmann::json& catalog = nullptr);

void RegisterAdminApi(HttpServer* http, broker::Broker* broker, nlohmann::json catalog = nullptr);

}  // namespace frazil::server
