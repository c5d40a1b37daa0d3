// upload-drop: put an upload into a product's incoming folder atomically.
#include "config/config.hpp"
#include "intake/drop.hpp"
#include "util/cli.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::string_view usage_text =
  R"(Usage: upload-drop [--config FILE] --product PRODUCT FILE...

Copies an upload (its .changes or .dsc and the files it lists) into the
incoming folder of PRODUCT, as a web uploader hands uploads to buildme: every
file under a hidden temporary name first, with upload_owner, upload_group and
upload_mode from [buildme], then renamed in, the .dsc and .changes last. A
name already in the incoming folder is refused and nothing is dropped; names
must follow Debian's rules (no '/', no leading '.', no control characters).
With the product's upload_keyring set, the upload must first pass the
signature rules buildme applies (a key of the keyrings, upload_acl, no old,
weak or replayed signature); otherwise nothing is placed and the reason is
printed.

Exit status: 0 dropped, 1 refused (the reason is printed), 2 usage or config
error.
)";

} // namespace

int main(int argc, char** argv)
{
  using namespace buildme;
  std::string config_path = config::default_config_path;
  std::string product_name;
  std::vector<std::filesystem::path> files;
  if (auto answered = util::answer_help_or_version(
        argc, argv, usage_text, fmt::format("upload-drop (buildme) {}", BUILDME_VERSION))) {
    return *answered;
  }
  auto line = util::parse_command_line(argc, argv, {{"config", 'c', true}, {"product", 'p', true}});
  if (!line) {
    fmt::print(stderr, "upload-drop: {}\nTry 'upload-drop --help'.\n", line.message());
    return util::exit_usage;
  }
  config_path = line->value("config").value_or(config_path);
  product_name = line->value("product").value_or("");
  for (const auto& file : line->arguments) {
    files.emplace_back(file);
  }
  if (product_name.empty() || files.empty()) {
    fmt::print(stderr, "upload-drop: needs --product PRODUCT and the upload's files\n"
                       "Try 'upload-drop --help'.\n");
    return util::exit_usage;
  }
  auto config = config::load_config(config_path);
  if (!config) {
    fmt::print(stderr, "upload-drop: error: {}\n", config.message());
    return util::exit_usage;
  }
  const config::Product* product = config->product(product_name);
  if (!product) {
    fmt::print(stderr, "upload-drop: error: no product {} in {}\n", util::printable(product_name),
               config->path);
    return util::exit_usage;
  }
  auto dropped = intake::drop_upload(*config, *product, files);
  if (!dropped) {
    fmt::print(stderr, "upload-drop: {}\n", dropped.message());
    return util::exit_attention;
  }
  fmt::print("dropped into {}: {}\n", product->incoming_dir.string(), util::join(*dropped, " "));
  return 0;
}
