// doctest entry point. Adds a closing line in the plain "N passed, N failed, N skipped" form
// and counts tests that skipped for lack of data or hardware.
#define DOCTEST_CONFIG_IMPLEMENT
#include "tests/test_util.h"

#include <cstdlib>
#include <mutex>
#include <set>

namespace test {

static std::mutex skip_mutex;
static std::set<std::string> skipped_tests;
static std::string current_test;
static unsigned tests_ran = 0, tests_failed = 0;

void note_skip(const std::string& reason) {
    std::lock_guard<std::mutex> lock(skip_mutex);
    skipped_tests.insert(current_test);
    std::printf("SKIPPED: %s: %s\n", current_test.c_str(), reason.c_str());
}

std::string temp_dir(const std::string& name) {
    std::string dir = "build/test-tmp/" + name;
    std::string cmd = "rm -rf '" + dir + "' && mkdir -p '" + dir + "'";
    if (std::system(cmd.c_str()) != 0) throw fastvlm::Error("cannot create " + dir);
    return dir;
}

}  // namespace test

struct SummaryListener : doctest::IReporter {
    explicit SummaryListener(const doctest::ContextOptions&) {}
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats& stats) override {
        test::tests_ran = stats.numTestCasesPassingFilters;
        test::tests_failed = stats.numTestCasesFailed;
    }
    void test_case_start(const doctest::TestCaseData& data) override { test::current_test = data.m_name; }
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
};
REGISTER_LISTENER("summary", 1, SummaryListener);

int main(int argc, char** argv) {
    doctest::Context context;
    context.applyCommandLine(argc, argv);
    int result = context.run();
    if (context.shouldExit()) return result;
    // The closing line, after doctest's own summary.
    unsigned skipped = unsigned(test::skipped_tests.size());
    std::printf("tests: %u passed, %u failed, %u skipped\n",
                test::tests_ran - test::tests_failed - skipped, test::tests_failed, skipped);
    return result;
}
