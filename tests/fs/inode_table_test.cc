#include "fs/inode_table.h"

#include <gtest/gtest.h>
