// The status model's JSON form: the documented field names, a lossless round
// trip, and the leniency a stable schema needs (unknown fields ignored,
// missing ones defaulted, unknown states kept as "unknown").
#include "mirror/status.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace {

using nlohmann::json;

mirror::DaemonStatus full_status() {
  mirror::DaemonStatus d;
  d.program = "mirrorfs";
  d.pid = 4242;
  d.version = "0.1.0";
  d.time = 1767225600000;
  mirror::VolumeStatus v;
  v.volume = "data";
  v.role = mirror::Role::local;
  v.mode = mirror::Mode::async;
  v.peer = "10.0.0.2:7400";
  v.mountpoint = "/mnt/data";
  v.directory = "/srv/data";
  v.link = mirror::LinkState::interrupted;
  v.link_since = 1767225590000;
  v.paused = true;
  v.heartbeat = {200, 1500, 3000, 10000, 1200, 1150, 1, 2, 3};
  v.connections = {{0, mirror::ConnectionState::closed, 10000, 0, 1 << 20, 1 << 20},
                   {1, mirror::ConnectionState::connecting, 10000, 2, 4096, 0}};
  v.queue = mirror::QueueStatus{512, 4 << 20, 130000, 1ull << 30, 1ull << 29, 3};
  v.throughput = {250.5, 1048576};
  v.last_error = mirror::ErrorStatus{"connect 10.0.0.2:7400: Connection refused", 1767225591000};
  v.counters = {1000, 990, 1, 1500, 2, 1};
  d.volumes.push_back(v);
  return d;
}

TEST(StatusJson, RoundTripsEveryField) {
  auto d = full_status();
  json j = d;
  EXPECT_EQ(j.get<mirror::DaemonStatus>(), d);
  EXPECT_EQ(json::parse(j.dump()).get<mirror::DaemonStatus>(), d);
}

TEST(StatusJson, UsesTheDocumentedNames) {
  json j = full_status();
  EXPECT_EQ(j["schema"], mirror::kStatusSchema);
  const json& v = j["volumes"][0];
  EXPECT_EQ(v["link"], "interrupted");
  EXPECT_EQ(v["mode"], "async");
  EXPECT_EQ(v["role"], "local");
  EXPECT_EQ(v["queue"]["records"], 512);
  EXPECT_EQ(v["queue"]["bytes"], 4 << 20);
  EXPECT_EQ(v["queue"]["oldest_age_ms"], 130000);
  EXPECT_EQ(v["queue"]["waiting_for_space"], 3);
  EXPECT_EQ(v["connections"][1]["timestamp_age_ms"], 10000);
  EXPECT_EQ(v["connections"][1]["state"], "connecting");
  EXPECT_EQ(v["heartbeat"]["last_heard_age_ms"], 10000);
  EXPECT_EQ(v["heartbeat"]["forged"], 1);
  EXPECT_EQ(v["last_error"]["at"], 1767225591000);
  EXPECT_EQ(v["counters"]["requests_failed"], 1);
  EXPECT_EQ(v["mountpoint"], "/mnt/data");
}

TEST(StatusJson, TheMirrorSideHasNullModeQueueAndMountpoint) {
  mirror::VolumeStatus v;
  v.role = mirror::Role::mirror;
  json j = v;
  EXPECT_TRUE(j["mode"].is_null());
  EXPECT_TRUE(j["queue"].is_null());
  EXPECT_TRUE(j["mountpoint"].is_null());
  EXPECT_TRUE(j["last_error"].is_null());
  EXPECT_TRUE(j["heartbeat"]["last_heard_age_ms"].is_null());
  EXPECT_EQ(j.get<mirror::VolumeStatus>(), v);
}

TEST(StatusJson, ReadsLeniently) {
  json j = {{"program", "mirrord"},
            {"a_field_from_the_future", 1},
            {"volumes", {{{"volume", "v"}, {"role", "mirror"}, {"link", "teleporting"}}}}};
  auto d = j.get<mirror::DaemonStatus>();
  EXPECT_EQ(d.program, "mirrord");
  ASSERT_EQ(d.volumes.size(), 1u);
  EXPECT_EQ(d.volumes[0].link, mirror::LinkState::unknown);
  EXPECT_EQ(d.volumes[0].heartbeat, mirror::HeartbeatStatus{});
  EXPECT_FALSE(d.volumes[0].queue);
}

TEST(StatusJson, ABadShapeNamesTheField) {
  json j = {{"volumes", {{{"volume", "v"}, {"queue", {{"records", "many"}}}}}}};
  try {
    (void)j.get<mirror::DaemonStatus>();
    FAIL() << "accepted a string for queue.records";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("records"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)json(42).get<mirror::DaemonStatus>(), std::exception);
  EXPECT_THROW((void)json({{"role", "primary"}}).get<mirror::VolumeStatus>(),
               std::invalid_argument);
}

}  // namespace
