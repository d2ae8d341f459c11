export { createViewRoutes } from './routes.ts';
export type { ViewRoutesOptions } from './routes.ts';
export { createViewWorkers, viewWorkers } from './workers.ts';
export type { ViewWorker } from './workers.ts';
export { ORDER_VIEWS, orderViewProjections } from './projections.ts';
export type { OrderViewProjections } from './projections.ts';
export { evolveBoard } from './boardView.ts';
export { evolveCustomerOrder } from './customerOrdersView.ts';
export { evolveCourierTask } from './courierTasksView.ts';
