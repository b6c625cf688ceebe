import { runRawFramedServer } from './raw-framed-server.js';

/** Echoes every frame back unchanged (the socket-limit context row). */
runRawFramedServer((frame, socket) => socket.write(frame));
