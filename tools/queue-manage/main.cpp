#include "app.hpp"

int main(int argc, char** argv)
{
  return buildme::queue_manage::main(argc, argv);
}
