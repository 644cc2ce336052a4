export const word = 'imported by a module';
