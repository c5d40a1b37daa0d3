// upload-drop: hand an upload's files into a product's incoming folder the
// way buildme expects, for a web uploader (Maemo's extras-assistant copied
// its uploads this way). Every file is first copied under a hidden temporary
// name (buildme ignores names starting with '.'), given the configured
// owner, group and mode, and fsynced; then all are renamed in, the .dsc and
// the .changes last, never over an existing file. buildme never sees half an
// upload from it.
#pragma once

#include "config/config.hpp"
#include "util/result.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace buildme::intake {

// Drops `files` (paths to regular files with Debian-valid names, at least one
// .dsc or .changes) into `product`'s incoming folder. Returns the names now
// there. Nothing is renamed in unless every file was copied. With the
// product's upload_keyring, the upload must first pass the signature rules
// buildme applies (debian::refuse_signatures), or nothing is placed.
Result<std::vector<std::string>> drop_upload(const config::Config& config,
                                             const config::Product& product,
                                             const std::vector<std::filesystem::path>& files);

} // namespace buildme::intake
