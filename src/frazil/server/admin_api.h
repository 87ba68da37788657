// The operator's admin endpoints on the HTTP port (docs/formats/danube-admin.md),
// over the admin operations the Danube admin services share (broker/admin.h):
//   GET    /admin/topics                    every topic, described
//   GET    /admin/topics/<ns>/<topic>       one topic
//   PUT    /admin/topics/<ns>/<topic>[?partitions=N][&dispatch=reliable]  create
//   DELETE /admin/topics/<ns>/<topic>       delete a topic (or every partition) with its table and WAL
//   GET    /admin/topics/<ns>/<topic>/subscriptions         subscription names
//   DELETE /admin/topics/<ns>/<topic>/subscriptions/<sub>   delete a subscription
//   GET    /admin/namespaces                namespace names
//   GET    /admin/namespaces/<ns>           its topics and policies
//   PUT    /admin/namespaces/<ns>           create
//   DELETE /admin/namespaces/<ns>           delete (only when empty)
//   GET    /admin/brokers                   this broker
#pragma once

#include <nlohmann/json.hpp>

#include "frazil/broker/admin.h"
#include "frazil/broker/broker.h"
#include "frazil/server/http_server.h"

namespace frazil::server {

// `catalog`: where the topic's table is recorded ({"type", "name", "uri"}),
// shown with the table; null leaves it out.
nlohmann::json DescribeTopicJson(const broker::TopicInfo& info, const nlohmann::json& catalog = nullptr);

// `admin` outlives the server.
void RegisterAdminApi(HttpServer* http, broker::Admin* admin, nlohmann::json catalog = nullptr);

}  // namespace frazil::server
