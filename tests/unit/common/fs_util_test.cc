// fsutil::CreateDirs: every level made, an existing directory accepted (the
// fast path), and a file in the way an error at any level.
#include "frazil/common/fs_util.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace frazil::fsutil {
namespace {

namespace fs = std::filesystem;

class CreateDirsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("frazil-fs-util-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

TEST_F(CreateDirsTest, MakesEveryMissingLevelAndAcceptsAnExistingDirectory) {
  const fs::path deep = root_ / "a" / "b" / "c";
  ASSERT_TRUE(CreateDirs(deep.string()).ok());
  EXPECT_TRUE(fs::is_directory(deep));
  // Again: the directory is there, nothing to do.
  EXPECT_TRUE(CreateDirs(deep.string()).ok());
  // A sibling under an existing parent.
  ASSERT_TRUE(CreateDirs((root_ / "a" / "d").string()).ok());
  EXPECT_TRUE(fs::is_directory(root_ / "a" / "d"));
}

TEST_F(CreateDirsTest, AFileInTheWayIsAnErrorNamingThePath) {
  std::ofstream(root_ / "file") << "x";
  // The last level is a file.
  Status last = CreateDirs((root_ / "file").string());
  EXPECT_FALSE(last.ok());
  EXPECT_NE(last.message().find("not a directory"), std::string::npos) << last.ToString();
  // A middle level is a file.
  Status middle = CreateDirs((root_ / "file" / "sub").string());
  EXPECT_FALSE(middle.ok());
  EXPECT_NE(middle.message().find((root_ / "file").string()), std::string::npos) << middle.ToString();
  EXPECT_FALSE(CreateDirs("").ok());
}

TEST_F(CreateDirsTest, MakesRelativePaths) {
  const fs::path cwd = fs::current_path();
  fs::current_path(root_);
  Status st = CreateDirs("rel/inner");
  fs::current_path(cwd);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(fs::is_directory(root_ / "rel" / "inner"));
}

}  // namespace
}  // namespace frazil::fsutil
