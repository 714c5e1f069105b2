/* pvepin install | uninstall: put this binary into a PVE snippets storage as
 * the hookscript, or take it out again. */
#pragma once

#define PV_SNIPPETS_DIR "/var/lib/vz/snippets"
#define PV_HOOK_NAME "pvepin"

int cmd_install(int argc, char **argv);
int cmd_uninstall(int argc, char **argv);
