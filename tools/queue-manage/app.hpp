// The queue-manage command line: build a repository from its queue, promote
// packages between repositories.
#pragma once

namespace buildme::queue_manage {

int main(int argc, char** argv);

} // namespace buildme::queue_manage
