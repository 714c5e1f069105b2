/* Apply an IRQ plan through the engine's journaling writer, then read back
 * what the kernel made of it. */
#pragma once
#include "irqtune/irqtune.h"
#include "irqtune/placement.h"

