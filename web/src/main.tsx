import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { applyTheme, readTheme } from './theme.ts';
import './styles.css';

// The saved theme applies before the first paint of the app, so a dark choice never flashes light.
applyTheme(readTheme());

const root = document.getElementById('root');
if (root === null) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
