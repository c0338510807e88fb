// SPDX-License-Identifier: Apache-2.0
/* cpp_module.cpp - a game module written in C++, to prove that
 * include/ringfleet/game.h works unchanged from C++: state in a class, the
 * callbacks as static member functions behind an extern "C" entry point.
 * The game: every datagram goes back to its sender; the value `echoes`
 * counts them. */
#include <ringfleet/game.h>

#include <cerrno>
#include <cstdint>
#include <new>
#include <string>

namespace {

class Echo {
public:
	explicit Echo(std::string server) : server_(std::move(server)) {}

	void on_input(rf_engine *e, rf_client_id c, const void *data, uint32_t len)
	{
		// the received buffer may be sent as is (by reference)
		if (rf_send(e, c, data, len) == 0)
			rf_set_value(e, 0, static_cast<int64_t>(++echoes_));
	}

	const std::string &server() const { return server_; }

	static int init(rf_engine *e, const rf_game_info *info, void **state)
	{
		Echo *self = new (std::nothrow) Echo(info->server ? info->server : "");

		if (!self)
			return -ENOMEM;
		if (rf_define_value(e, 0, "echoes") < 0) {
			delete self;
			return -EINVAL;
		}
		rf_set_status(e, ("echo on " + self->server()).c_str());
		*state = self;
		return 0;
	}

	static void fini(rf_engine *, void *state) { delete static_cast<Echo *>(state); }

	static void input(rf_engine *e, void *state, rf_client_id c, const void *data,
			  uint32_t len)
	{
		static_cast<Echo *>(state)->on_input(e, c, data, len);
	}

	static void tick(rf_engine *, void *) {}

private:
	std::string server_;
	uint64_t echoes_ = 0;
};

rf_game make_game()
{
	rf_game g{};

	g.abi_version = RF_GAME_ABI_VERSION;
	g.size = sizeof(rf_game);
	g.name = "cpp-echo";
	g.flags = RF_GAME_IDLE_SLEEP;
	g.init = Echo::init;
	g.fini = Echo::fini;
	g.input = Echo::input;
	g.tick = Echo::tick;
	return g;
}

const rf_game game = make_game();

} // namespace

extern "C" __attribute__((visibility("default"))) const rf_game *ringfleet_game(void)
{
	return &game;
}
