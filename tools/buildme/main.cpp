#include "app.hpp"

int main(int argc, char** argv)
{
  return buildme::app::main(argc, argv);
}
