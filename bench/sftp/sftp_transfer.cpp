// Times one upload and one download of a file through buildme's SshHost (the
// code path a build's sources and results take), for bench/sftp-bench.
//
//   sftp-transfer HOST PORT USER IDENTITY KNOWN_HOSTS LOCAL REMOTE
//
// Prints "upload SECONDS" and "download SECONDS"; the downloaded copy is
// written beside LOCAL as LOCAL.back.
#include "builder/ssh_host.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

int main(int argc, char** argv)
{
  if (argc != 8) {
    fmt::print(stderr, "usage: sftp-transfer HOST PORT USER IDENTITY KNOWN_HOSTS LOCAL REMOTE\n");
    return 2;
  }
  buildme::builder::SshTarget target;
  target.host = argv[1];
  target.port = std::stoi(argv[2]);
  target.user = argv[3];
  target.identity = argv[4];
  target.known_hosts = argv[5];
  const std::filesystem::path local = argv[6];
  const std::string remote = argv[7];

  auto host = buildme::builder::connect_ssh(target);
  if (!host) {
    fmt::print(stderr, "sftp-transfer: {}\n", host.message());
    return 1;
  }
  using Clock = std::chrono::steady_clock;
  const auto seconds = [](Clock::time_point since) {
    return std::chrono::duration<double>(Clock::now() - since).count();
  };

  auto start = Clock::now();
  if (auto sent = (*host)->upload(local, remote); !sent) {
    fmt::print(stderr, "sftp-transfer: {}\n", sent.message());
    return 1;
  }
  fmt::print("upload {:.3f}\n", seconds(start));

  const std::filesystem::path back = local.string() + ".back";
  std::error_code ignored;
  std::filesystem::remove(back, ignored);
  start = Clock::now();
  if (auto fetched = (*host)->download(remote, back, UINT64_MAX); !fetched) {
    fmt::print(stderr, "sftp-transfer: {}\n", fetched.message());
    return 1;
  }
  fmt::print("download {:.3f}\n", seconds(start));
  return 0;
}
