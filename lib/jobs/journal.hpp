// Journals of moves between folders: a move is written down (one deb822
// record, atomically) before its first file moves and removed after its
// last, so that a run killed half-way leaves the next run what it needs to
// finish the move. Used by the state folder (jobs/state_dir.hpp) and by
// setting files aside (jobs/set_aside.hpp).
#pragma once

#include "debian/control_writer.hpp"
#include "debian/deb822.hpp"
#include "util/result.hpp"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace buildme::jobs {

// A name for a new journal of `action`, unique among the journals of every
// process (time, process id, a counter).
std::string journal_name(std::string_view action);

// Writes (or rewrites) a journal atomically: it is whole or absent.
Status write_journal(const std::filesystem::path& path, const debian::FieldList& fields);

// The record of a journal; an Error names the file when it is not one
// deb822 paragraph.
Result<debian::Paragraph> read_journal(const std::filesystem::path& path);

// Removes a finished journal (gone already is fine).
Status remove_journal(const std::filesystem::path& path);

// The journals in `dir` still to replay, in name order. The hidden
// temporaries of journals a killed run was still writing are removed:
// nothing had moved for them. A missing folder holds none.
Result<std::vector<std::filesystem::path>> pending_journals(const std::filesystem::path& dir);

} // namespace buildme::jobs
