// A ChunkCache in memory: the compressed index pieces a distribution writer
// reuses, without the catalog's SQLite table behind them.
#pragma once

#include "repo/index.hpp"

#include <map>
#include <optional>
#include <string>

namespace buildme::test {

struct MemoryChunks : repo::ChunkCache
{
  std::map<std::string, std::string> pieces;
  std::optional<std::string> get(const std::string& key) override
  {
    auto found = pieces.find(key);
    return found == pieces.end() ? std::nullopt : std::optional(found->second);
  }
  void put(const std::string& key, const std::string& value) override { pieces[key] = value; }
};

} // namespace buildme::test
