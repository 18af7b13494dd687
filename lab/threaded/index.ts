/** The lab with its server in a worker thread, and the mirrored clock it runs on. */
export { ThreadedLab, startThreadedLab, serverWorkerFile, type ThreadedLabOptions } from './threaded-lab';
export { ClockHost, MirroredClock, SharedTime } from './mirror';
