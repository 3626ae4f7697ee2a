// `mirrorctl metrics` against canned statuses, judged by the checker of the
// Prometheus text exposition format in tests/support/prometheus_check.h
// (which is itself tested here first: it must catch the mistakes it is for).
#include <cmath>
#include <map>

#include "tests/support/prometheus_check.h"
#include "tests/tools/mirrorctl_fixture.h"

namespace {

using namespace mirrorctl_test;

using testing_support::check_prometheus_text;
using Series = testing_support::PrometheusSample;

const Series* find(const testing_support::PrometheusText& p, const std::string& name,
                   const std::map<std::string, std::string>& labels) {
  return testing_support::find_sample(p, name, labels);
}

TEST(PrometheusChecker, CatchesTheMistakesItIsFor) {
  EXPECT_TRUE(check_prometheus_text("# HELP a_total x\n# TYPE a_total counter\na_total 1\n")
                  .errors.size() == 1);  // only: not prefixed mirrorfs_
  for (const char* bad : {
           "mirrorfs_x 1\n",                                                  // no TYPE
           "# HELP mirrorfs_x h\n# TYPE mirrorfs_x gauge\nmirrorfs_x one\n",  // value
           "# HELP mirrorfs_x h\n# TYPE mirrorfs_x gauge\nmirrorfs_x{a=\"b} 1\n",
           "# HELP mirrorfs_x h\n# TYPE mirrorfs_x gauge\nmirrorfs_x{1a=\"b\"} 1\n",
           "# HELP mirrorfs_x h\n# TYPE mirrorfs_x gauge\nmirrorfs_x{a=\"\\t\"} 1\n",
           "# HELP mirrorfs_x h\n# TYPE mirrorfs_x gauge\nmirrorfs_x 1\nmirrorfs_x 2\n",
           "# HELP mirrorfs_x h\n# TYPE mirrorfs_x gauge\nmirrorfs_x 1\n# HELP mirrorfs_x h\n",
           "# HELP mirrorfs_x h\n# TYPE mirrorfs_x counter\nmirrorfs_x 1\n",
           "# HELP mirrorfs_x h\n# TYPE mirrorfs_x gauge\n# HELP mirrorfs_y h\n"
           "# TYPE mirrorfs_y gauge\nmirrorfs_x{a=\"1\"} 1\nmirrorfs_y 1\nmirrorfs_x{a=\"2\"} 1\n",
       }) {
    EXPECT_FALSE(check_prometheus_text(bad).errors.empty()) << bad;
  }
  auto good = check_prometheus_text(
      "# HELP mirrorfs_x h\n# TYPE mirrorfs_x gauge\nmirrorfs_x{a=\"q\\\"\\\\\\n\",b=\"\"} -1.5e3\n"
      "mirrorfs_x NaN 1700000000\n");
  EXPECT_TRUE(good.errors.empty()) << good.errors[0];
  EXPECT_EQ(good.samples[0].labels.at("a"), "q\"\\\n");
}

class Metrics : public Mirrorctl {};

TEST_F(Metrics, OutputIsValidPrometheusTextWithTheExpectedSamples) {
  auto data = interrupted_with_queue();
  data.last_error->message = "a \"quoted\"\nmessage";  // not a label, but the peer is
  data.peer = "host\\with\"odd\nname:1";
  serve("mirrorfs-data", daemon_with("mirrorfs", data));
  serve("mirrord", daemon_with("mirrord", mirror_side()));
  auto r = mirrorctl({"metrics"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto p = check_prometheus_text(r.out);
  for (const auto& e : p.errors) ADD_FAILURE() << e << "\n" << r.out;

  std::map<std::string, std::string> local = {{"volume", "data"}, {"role", "local"}};
  auto value = [&](const std::string& name, std::map<std::string, std::string> labels) {
    const Series* s = find(p, name, labels);
    EXPECT_NE(s, nullptr) << name << " missing\n" << r.out;
    return s ? s->value : NAN;
  };
  EXPECT_EQ(value("mirrorfs_queue_bytes", local), 4 << 20);
  EXPECT_EQ(value("mirrorfs_queue_records", local), 512);
  EXPECT_EQ(value("mirrorfs_queue_oldest_age_seconds", local), 130);
  EXPECT_EQ(value("mirrorfs_heartbeat_received_total", local), 17990);
  EXPECT_EQ(value("mirrorfs_link_state",
                  {{"volume", "data"}, {"role", "local"}, {"state", "interrupted"}}),
            1);
  EXPECT_EQ(
      value("mirrorfs_link_state", {{"volume", "data"}, {"role", "local"}, {"state", "connected"}}),
      0);
  EXPECT_EQ(value("mirrorfs_link_state",
                  {{"volume", "data"}, {"role", "mirror"}, {"state", "connected"}}),
            1);
  EXPECT_EQ(value("mirrorfs_connection_sent_bytes_total",
                  {{"volume", "data"}, {"role", "local"}, {"connection", "1"}}),
            2 << 20);
  EXPECT_EQ(value("mirrorfs_volume_info", {{"peer", data.peer}}), 1);
  EXPECT_EQ(value("mirrorfs_control_up", {{"socket", dir() + "/mirrord.sock"}}), 1);
  EXPECT_EQ(find(p, "mirrorfs_queue_bytes", {{"role", "mirror"}}), nullptr);
}

TEST_F(Metrics, TheCopyAndItsWalkAreGauges) {
  serve("mirrorfs-data", daemon_with("mirrorfs", with_sync(sync_initial_running())));
  auto home = with_sync(sync_split_brain());
  home.volume = "home";
  home.mountpoint = "/mnt/home";
  serve("mirrorfs-home", daemon_with("mirrorfs", home));
  auto r = mirrorctl({"metrics"});
  EXPECT_EQ(r.exit_code, 0) << "a split brain is reported, not an error of metrics\n" << r.err;
  auto p = check_prometheus_text(r.out);
  for (const auto& e : p.errors) ADD_FAILURE() << e << "\n" << r.out;
  auto value = [&](const std::string& name, std::map<std::string, std::string> labels) {
    const Series* s = find(p, name, labels);
    EXPECT_NE(s, nullptr) << name << " missing\n" << r.out;
    return s ? s->value : NAN;
  };
  std::map<std::string, std::string> data = {{"volume", "data"}, {"role", "local"}};
  std::map<std::string, std::string> other = {{"volume", "home"}, {"role", "local"}};
  EXPECT_EQ(value("mirrorfs_copy_consistent", data), 0);
  EXPECT_EQ(value("mirrorfs_split_brain", data), 0);
  EXPECT_EQ(value("mirrorfs_split_brain", other), 1);
  EXPECT_EQ(value("mirrorfs_sync_state", {{"volume", "data"}, {"state", "initial-sync"}}), 1);
  EXPECT_EQ(value("mirrorfs_sync_state", {{"volume", "data"}, {"state", "idle"}}), 0);
  EXPECT_EQ(value("mirrorfs_sync_state", {{"volume", "home"}, {"state", "split-brain"}}), 1);
  EXPECT_EQ(value("mirrorfs_sync_done_files", data), 1200);
  EXPECT_EQ(value("mirrorfs_sync_expected_files", data), 5000);
  EXPECT_EQ(value("mirrorfs_sync_done_bytes", data), 3ull << 29);
  EXPECT_EQ(value("mirrorfs_sync_expected_bytes", data), 3ull << 30);
  EXPECT_EQ(find(p, "mirrorfs_sync_finished_timestamp_seconds", data), nullptr)
      << "no walk has finished";

  // A finished verify: consistent, and when it ended.
  servers.clear();
  serve("mirrorfs-data", daemon_with("mirrorfs", with_sync(sync_consistent())));
  r = mirrorctl({"metrics", "data"});
  p = check_prometheus_text(r.out);
  for (const auto& e : p.errors) ADD_FAILURE() << e << "\n" << r.out;
  EXPECT_EQ(value("mirrorfs_copy_consistent", data), 1);
  EXPECT_EQ(value("mirrorfs_sync_finished_timestamp_seconds", data), (kNow - 7'200'000) / 1000.0);
  EXPECT_EQ(value("mirrorfs_sync_differences", data), 0);

  // mirrord and volumes without a sync state have none of these series.
  servers.clear();
  serve("mirrord", daemon_with("mirrord", mirror_side()));
  r = mirrorctl({"metrics"});
  p = check_prometheus_text(r.out);
  EXPECT_EQ(find(p, "mirrorfs_copy_consistent", {}), nullptr) << r.out;
}

TEST_F(Metrics, AnUnreachableDaemonIsAZeroUpAndExitTwo) {
  serve("mirrorfs-data", daemon_with("mirrorfs", connected_idle()));
  stale("mirrorfs-gone");
  auto r = mirrorctl({"metrics"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("mirrorfs-gone.sock"), std::string::npos) << r.err;
  auto p = check_prometheus_text(r.out);
  for (const auto& e : p.errors) ADD_FAILURE() << e << "\n" << r.out;
  const Series* gone = find(p, "mirrorfs_control_up", {{"socket", dir() + "/mirrorfs-gone.sock"}});
  ASSERT_NE(gone, nullptr) << r.out;
  EXPECT_EQ(gone->value, 0);
  EXPECT_NE(find(p, "mirrorfs_queue_bytes", {{"volume", "data"}}), nullptr);
}

}  // namespace
