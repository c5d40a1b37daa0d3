// A job as intake would have accepted it, for the tests that need jobs in a
// state folder: hello 1.0-N for fremantle, a lone .dsc, Architecture: any.
#pragma once

#include "jobs/job.hpp"

#include <fmt/format.h>

namespace buildme::test {

inline jobs::Job sample_job(long number)
{
  jobs::Job job;
  job.number = number;
  job.product = "fremantle";
  job.source = "hello";
  job.version = fmt::format("1.0-{}", number);
  job.upload = "hello.dsc";
  job.dsc = "hello.dsc";
  job.uploader = "Jane Doe <jane@example.org>";
  job.architectures = {"any"};
  job.files = {"hello.dsc"};
  return job;
}

} // namespace buildme::test
