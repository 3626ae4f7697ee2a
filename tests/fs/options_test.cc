#include "fs/options.h"

#include <gtest/gtest.h>
